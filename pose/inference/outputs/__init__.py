"""Analysis files that lab tools read, one writer module per format, all fed by the same
per-frame results (``results.VideoResults``): ``dlc`` (DeepLabCut .h5 + .csv), ``slp`` (SLEAP
predictions via sleap-io), ``nwb`` (NWB via ndx-pose). Import the writer modules directly: their
libraries are imported only when that format is asked for."""
