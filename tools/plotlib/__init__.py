# Description: the parts of tools/plot.py that are not its plots: reading and
# checking the inputs (inputs.py) and the drawing style they share (style.py).
