# Description: the parts of tools/plot.py that are not its plots: reading and
# checking the inputs (inputs.py), the drawing style they share (style.py),
# the labels of the map's points (labels.py, with geometry.py), and the
# findings in the figures' titles (titles.py).
