# Description: boxes (x0, y0, x1, y1) and segments ((x, y), (x, y)) in pixels,
# as the map's labels (labels.py) are placed and its test checks them: whether
# two boxes overlap, whether two segments cross, whether a segment runs
# through a box.
"""Boxes and segments in display coordinates."""

import math


def overlap(a, b, pad=0.0):
    """Whether boxes a and b (x0, y0, x1, y1) overlap, b grown by pad."""
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def inside(a, b, margin=0.0):
    """Whether box a is inside box b shrunk by margin."""
    return (a[0] >= b[0] + margin and a[1] >= b[1] + margin and a[2] <= b[2] - margin
            and a[3] <= b[3] - margin)


def turn(p, q, r):
    """Twice the signed area of p, q, r: above 0 when r is left of p -> q."""
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def cross(a, b):
    """Whether segments a and b cross at a point inside both (touching at an
    end, or lying on one line, does not count)."""
    (p, q), (r, s) = a, b
    return turn(p, q, r) * turn(p, q, s) < 0 and turn(r, s, p) * turn(r, s, q) < 0


def through(seg, box):
    """Whether segment seg passes through the inside of box."""
    (x0, y0), (x1, y1) = seg
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo >= hi:
            return False
    return True


def centred(c, w, h):
    return (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)


def centre(box):
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def to_edge(w, h, u):
    """From a w x h box's centre to its edge along the unit vector u."""
    return min(w / 2 / abs(u[0]) if u[0] else math.inf, h / 2 / abs(u[1]) if u[1] else math.inf)
