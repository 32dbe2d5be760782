# Description: the labels of the map's points (tools/plot.py's map_2x2): each
# model's name beside its point where the point stands apart, or a short
# leader line away; else a number beside the point (or a leader away) and
# "number name" in the panel's key, or in the figure's when a panel has no
# room for one. No two labels overlap, no label covers a point, no two leader
# lines cross; what was drawn is kept (Placed) for the tests to measure.
"""Labels of a crowded scatter plot, placed in display coordinates (pixels)."""

import math

from .geometry import centre, centred, cross, inside, overlap, through, to_edge

NAME_SIZE = 7      # points: a name beside its point
NUMBER_SIZE = 6.5  # points: a number beside its point, and the key
GAP = 2.0          # pixels between a marker and its own name or number
CLEAR = 6.0        # pixels between a name (or a number without leader) and other markers
PAD = 1.5          # pixels between two labels, or a label and a marker
STEP = 5.0         # pixels between the rings a number is tried on
RINGS = 16         # rings tried before the whole panel is searched
NEAR = 40.0        # pixels: points this close make a point's crowd
LEADER = 3.0       # pixels: a label farther than this from its marker gets a leader


def beside(p, w, h, d):
    """Boxes w x h at distance d from p, best first: right, left, above right,
    below right, above, below, above left, below left."""
    x, y = p
    k = d * 0.75
    return [(x + d, y - h / 2, x + d + w, y + h / 2), (x - d - w, y - h / 2, x - d, y + h / 2),
            (x + k, y + k, x + k + w, y + k + h), (x + k, y - k - h, x + k + w, y - k),
            (x - w / 2, y + d, x + w / 2, y + d + h), (x - w / 2, y - d - h, x + w / 2, y - d),
            (x - k - w, y + k, x - k, y + k + h), (x - k - w, y - k - h, x - k, y - k)]


def ring(p, w, h, rad, away, turned=False):
    """Boxes w x h whose edge is rad from p, in 16 directions, those nearest
    the angle `away` first; turned by half a step (off the horizontal and
    vertical, where error bars are) when `turned`."""
    angles = sorted((math.pi / 8 * (k + 0.5 * turned) for k in range(16)),
                    key=lambda a: abs(math.remainder(a - away, 2 * math.pi)))
    for a in angles:
        u = (math.cos(a), math.sin(a))
        t = rad + to_edge(w, h, u)
        yield centred((p[0] + t * u[0], p[1] + t * u[1]), w, h)


def leader(p, r, box):
    """The line from the edge of the marker at p (radius r) to the edge of
    box, or None when the box is next to the marker."""
    c = centre(box)
    dx, dy = c[0] - p[0], c[1] - p[1]
    n = math.hypot(dx, dy)
    if n == 0:
        return None
    u = (dx / n, dy / n)
    end = n - to_edge(box[2] - box[0], box[3] - box[1], u) - 1
    if end - r < LEADER:
        return None
    return ((p[0] + r * u[0], p[1] + r * u[1]), (p[0] + end * u[0], p[1] + end * u[1]))


def obstacles(artists, renderer):
    """(boxes, segments) covering the artists: a line collection (error bars)
    as its segments, a rotated text as small squares along it, anything else
    as its box."""
    from matplotlib.collections import LineCollection

    out, segments = [], []
    for a in artists:
        if isinstance(a, LineCollection):
            to_px = a.get_transform()
            segments += [tuple(map(tuple, to_px.transform(s[[0, -1]])))
                         for s in a.get_segments() if len(s) > 1]
            continue
        box = a.get_window_extent(renderer).extents
        if not getattr(a, "get_rotation", lambda: 0)() % 180:
            out.append(tuple(box))
            continue
        side = a.get_fontsize() * a.figure.dpi / 72 * 1.3
        (x0, y0, x1, y1) = box
        rising = 0 < a.get_rotation() % 180 < 90
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / side))
        for k in range(n + 1):
            f = k / n
            x = x0 + f * (x1 - x0)
            y = y0 + f * (y1 - y0) if rising else y1 - f * (y1 - y0)
            out.append(centred((x, y), side, side))
    return out, segments


class Placed:
    """What place_map_labels drew in one panel: the artists of the names, the
    numbers, the leader lines and the key, and which model each stands for.
    Their geometry in display coordinates is read after a draw: geometry()."""

    def __init__(self, ax, points, radius):
        self.ax = ax
        self.points = points   # [(x, y, text, colour)] in data coordinates
        self.radius = radius   # of a marker, in points (1/72 inch)
        self.names = []        # [(point index, Text)]
        self.numbers = []      # [(point index, Text)]
        self.leaders = []      # [(point index, Line2D)]
        self.key = []          # [(point index, Text of the number, Text of the name)]
        self.frame = None      # the key's background, a Rectangle
        self.cramped = False   # whether the key had no room in the panel

    def remove(self):
        """Takes what was drawn off the panel."""
        for _, *artists in self.names + self.numbers + self.leaders + self.key:
            for a in artists:
                a.remove()
        if self.frame:
            self.frame.remove()
        self.names, self.numbers, self.leaders, self.key, self.frame = [], [], [], [], None

    def identified(self):
        """{model: how}: "name" when named beside its point, else its number
        when that is both beside its point and in the key."""
        out = {}
        for i, _ in self.names:
            out[self.points[i][2]] = "name"
        beside_point = {i: t.get_text() for i, t in self.numbers}
        for i, num, name in self.key:
            if beside_point.get(i) == num.get_text() and name.get_text() == self.points[i][2]:
                out[self.points[i][2]] = num.get_text()
        return out

    def geometry(self, renderer=None):
        """After fig.canvas.draw(): the markers' centres and radius, every
        label's box (names, numbers, key entries) and every leader's two ends,
        all in display coordinates."""
        fig = self.ax.figure
        renderer = renderer or fig.canvas.get_renderer()

        def box(t):
            return tuple(t.get_window_extent(renderer).extents)

        def ends(line):
            xy = line.get_transform().transform(line.get_xydata())
            return (tuple(xy[0]), tuple(xy[-1]))

        centres = [tuple(self.ax.transData.transform((x, y))) for x, y, _, _ in self.points]
        labels = [(i, "name", box(t)) for i, t in self.names]
        labels += [(i, "number", box(t)) for i, t in self.numbers]
        for i, num, name in self.key:
            labels += [(i, "key", box(num)), (i, "key", box(name))]
        return {"centres": centres, "radius": self.radius * fig.dpi / 72,
                "axes": tuple(self.ax.bbox.extents), "labels": labels,
                "leaders": [(i, ends(line)) for i, line in self.leaders],
                "frame": tuple(self.frame.get_window_extent(renderer).extents)
                if self.frame else None}


def measure(on, renderer, text, size, weight="normal"):
    """(width, height) in pixels of one line of text on an axes or figure."""
    t = on.text(0, 0, text, fontsize=size, fontweight=weight,
                transform=getattr(on, "transAxes", None) or on.transFigure)
    e = t.get_window_extent(renderer)
    t.remove()
    return e.width, e.height


def key_layout(size_of, entries, cols):
    """The key of entries [(point index, number, name)] in `cols` columns:
    (width, height, rows), rows [(point index, x of the number's right, x of
    the name's left, y)] from its lower left corner. size_of(text, points,
    weight) -> (width, height) in pixels."""
    pad, space = 3.0, 3.0
    nums = [size_of(num, NUMBER_SIZE, "bold") for _, num, _ in entries]
    names = [size_of(name, NUMBER_SIZE) for _, _, name in entries]
    wide = max(w for w, _ in nums)
    pitch = max(h for _, h in nums + names) + 0.5
    per = math.ceil(len(entries) / cols)
    height = per * pitch + 2 * pad
    rows, x = [], pad
    for c in range(cols):
        chunk = range(c * per, min(len(entries), (c + 1) * per))
        for k, e in enumerate(chunk):
            rows.append((entries[e][0], x + wide, x + wide + space,
                         height - pad - (k + 0.5) * pitch))
        if chunk:
            x += wide + space + max(names[e][0] for e in chunk) + 2 * pad
    return x - pad, height, rows


def key_place(w, h, frame, markers, blocked, names):
    """Where in the panel the w x h key goes: a corner (upper left first),
    else anywhere, covering no marker nor artist to avoid, and the fewest
    names; None when every place covers some."""
    x0, y0, x1, y1 = frame[0] + 3, frame[1] + 3, frame[2] - 3, frame[3] - 3
    corners = [(x0, y1 - h), (x1 - w, y0), (x1 - w, y1 - h), (x0, y0)]
    grid = [(x, y) for x in range(int(x0), int(x1 - w) + 1, 6)
            for y in range(int(y0), int(y1 - h) + 1, 6)]
    best = None
    for rank, (x, y) in enumerate(corners + grid):
        b = (x, y, x + w, y + h)
        if (not inside(b, frame, 2) or any(overlap(b, m, PAD) for m in markers)
                or any(overlap(b, o, PAD) for o in blocked)):
            continue
        if rank >= len(corners):
            rank = len(corners) + min(math.dist((x, y), c) for c in corners)
        score = (sum(overlap(b, o, PAD) for o in names), rank)
        if best is None or score < best[0]:
            best = (score, b)
    return best and best[1]


def key_spot(size_of, entries, frame, markers, blocked, names):
    """(box, rows, columns) of the key: in as few columns as keep it under
    55% of the panel's height, or in 1 to 4 columns, the nearest that count
    first, where it covers the fewest names (see key_place); None when it
    has no room in the panel."""
    n, tall = len(entries), frame[3] - frame[1]
    pitch = key_layout(size_of, entries, n)[1] - 6  # one row
    first = 1
    while first < n and math.ceil(n / first) * pitch > 0.55 * tall:
        first += 1
    best = None
    for cols in sorted(set(range(1, min(n, 4) + 1)) | {first}, key=lambda c: (abs(c - first), c)):
        w, h, rows = key_layout(size_of, entries, cols)
        box = key_place(w, h, frame, markers, blocked, names)
        if box:
            covered = sum(overlap(box, o, PAD) for o in names)
            if best is None or covered < best[0]:
                best = (covered, box, rows, cols)
            if not covered:
                break
    return best and best[1:]


def figure_key_width(fig, entries, height):
    """The width in pixels of the figure's key (see figure_key) when it may
    be `height` pixels tall."""
    return figure_key_layout(fig, entries, height)[0]


def figure_key_layout(fig, entries, height):
    """key_layout of entries [(number, name, colour)] in as few columns as
    keep it `height` pixels tall at most."""
    renderer = fig.canvas.get_renderer()

    def size_of(text, size, weight="normal"):
        return measure(fig, renderer, text, size, weight)

    keyed = [(k, str(num), name) for k, (num, name, _) in enumerate(entries)]
    pitch = key_layout(size_of, keyed, len(keyed))[1] - 6
    cols = 1
    while cols < len(keyed) and math.ceil(len(keyed) / cols) * pitch + 6 > height:
        cols += 1
    return key_layout(size_of, keyed, cols)


def figure_key(fig, entries, x, y0, y1):
    """Draws the key of the figure, entries [(number, name, colour)], in as
    many columns as keep it between heights y0 and y1, from x (pixels of the
    figure): {name: (Text of the number, Text of the name)}."""
    w, h, rows = figure_key_layout(fig, entries, y1 - y0)
    to_fig = fig.transFigure.inverted()
    bottom = (y0 + y1) / 2 - h / 2
    out = {}
    for k, right, left, y in rows:
        num, name, colour = entries[k]
        out[name] = tuple(
            fig.text(*to_fig.transform((x + dx, bottom + y)), s, fontsize=NUMBER_SIZE,
                     fontweight=weight, color=colour, ha=ha, va="center")
            for dx, s, weight, ha in ((right, str(num), "bold", "right"),
                                      (left, name, "normal", "left")))
    return out


def shrunk(old, w, h, frame):
    """A w x h box inside the box old, in old's corner nearest a corner of
    the panel."""
    x = old[0] if old[0] - frame[0] <= frame[2] - old[2] else old[2] - w
    y = old[1] if old[1] - frame[1] <= frame[3] - old[3] else old[3] - h
    return (x, y, x + w, y + h)


class Panel:
    """One panel's labels while they are placed, in pixels: the names next to
    their points, the names and numbers joined to theirs by a leader (or
    next to them), and the key's box."""

    def __init__(self, ps, r, frame, blocked, bars):
        self.ps, self.r, self.frame, self.blocked, self.bars = ps, r, frame, blocked, bars
        self.markers = [(x - r, y - r, x + r, y + r) for x, y in ps]
        self.names = {}    # point index -> box, next to the point
        self.far = {}      # point index -> box of a name with a leader
        self.numbers = {}  # point index -> box
        self.key = None
        self.text = {}     # point index -> (width, height) of its number's text

    def line(self, i, b):
        """The leader of point i to its label in box b: to the edge of the
        text itself (a number's box is the widest number's)."""
        if i in self.numbers and i in self.text:
            b = centred(centre(b), *self.text[i])
        return leader(self.ps[i], self.r, b)

    def lines(self, skip=None):
        """The leaders drawn, but point skip's."""
        out = []
        for d in (self.far, self.numbers):
            out += [self.line(j, b) for j, b in d.items() if j != skip]
        return [s for s in out if s]

    def boxes(self, skip=None):
        """The boxes of the labels and of the key, but point skip's."""
        out = list(self.names.values()) + ([self.key] if self.key else [])
        for d in (self.far, self.numbers):
            out += [b for j, b in d.items() if j != skip]
        return out

    def free(self, i, b, boxes, clear=PAD):
        """Whether point i's label in box b is inside the panel, `clear` of
        the other markers and clear of the artists to avoid and of boxes."""
        return (inside(b, self.frame, 2)
                and not any(overlap(b, m, clear) for j, m in enumerate(self.markers) if j != i)
                and not any(overlap(b, o, PAD) for o in self.blocked)
                and not any(overlap(b, o, PAD) for o in boxes)
                and not any(through(s, b) for s in self.bars))

    def faults(self, i, b, lines, boxes):
        """(crossings, labels, markers, length): the leaders that point i's
        leader to box b crosses, the labels it runs through (or whose leaders
        run through b), the markers it runs through, and its length."""
        line = self.line(i, b)
        labels = sum(through(s, b) for s in lines)
        if not line:
            return 0, labels, 0, 0.0
        return (sum(cross(line, s) for s in lines),
                labels + sum(through(line, o) for o in boxes),
                sum(through(line, m) for j, m in enumerate(self.markers) if j != i),
                math.dist(*line))

    @staticmethod
    def score(faults):
        """One number for faults: a crossing is worst, then running through a
        label, then through a marker; then every pixel of length a little."""
        c, labels, markers, length = faults
        return 20 * c + 5 * labels + markers + 0.03 * length

    def number_spot(self, i, w, h, away, uncrossed=False):
        """The w x h box for point i's number of the least score: next to its
        marker (clear of the others), else on the rings around it, else
        anywhere in the panel. With `uncrossed`, only boxes whose leader
        crosses no other. None when no box is free."""
        p, r = self.ps[i], self.r
        lines, boxes = self.lines(i), self.boxes(i)
        best = None

        def consider(b):
            nonlocal best
            f = self.faults(i, b, lines, boxes)
            if uncrossed and f[0]:
                return
            if best is None or self.score(f) < best[0]:
                best = (self.score(f), b)

        for b in ring(p, w, h, r + GAP, away):
            if self.free(i, b, boxes, CLEAR):
                consider(b)
        for k in range(1, RINGS + 1):
            if best is not None and best[0] <= 0.03 * (k * STEP - 1):
                return best[1]
            for b in ring(p, w, h, r + GAP + 1 + k * STEP, away, True):
                if self.free(i, b, boxes):
                    consider(b)
        if best is None:
            for x in range(int(self.frame[0]), int(self.frame[2]), 4):
                for y in range(int(self.frame[1]), int(self.frame[3]), 4):
                    b = centred((x, y), w, h)
                    if self.free(i, b, boxes):
                        consider(b)
        return best and best[1]

    def untangle(self):
        """Swaps two numbers' boxes (all of one size) while the lines from
        their points to their boxes' centres cross: a swap shortens the lines'
        total length, so it ends, and a drawn leader is part of such a line."""
        keys = sorted(self.numbers)
        for _ in range(100 * len(keys) ** 2 + 1):
            seg = {i: (self.ps[i], centre(self.numbers[i])) for i in keys}
            pair = next(((a, b) for k, a in enumerate(keys) for b in keys[k + 1:]
                         if cross(seg[a], seg[b])), None)
            if pair is None:
                return
            a, b = pair
            self.numbers[a], self.numbers[b] = self.numbers[b], self.numbers[a]

    def repair(self, w, h, aways):
        """Moves each number whose leader runs through a label or a marker
        (or a leader through it) to where it scores less, crossing no
        leader; again while any moves, three times at most."""
        for _ in range(3):
            moved = False
            for i in sorted(self.numbers):
                lines, boxes = self.lines(i), self.boxes(i)
                now = self.faults(i, self.numbers[i], lines, boxes)
                if not (now[1] or now[2]):
                    continue
                b = self.number_spot(i, w, h, aways[i], uncrossed=True)
                if b and self.score(self.faults(i, b, lines, boxes)) < self.score(now) - 0.01:
                    self.numbers[i] = b
                    moved = True
            keys = sorted(self.numbers)
            for k, a in enumerate(keys):
                for b in keys[k + 1:]:
                    moved |= self.swap(a, b)
            if not moved:
                return

    def cost(self, i):
        """The score of number i where it is."""
        return self.score(self.faults(i, self.numbers[i], self.lines(i), self.boxes(i)))

    def swap(self, a, b):
        """Swaps the boxes of numbers a and b if that scores less and
        crosses no leader; whether it did."""
        before = self.cost(a) + self.cost(b)
        self.numbers[a], self.numbers[b] = self.numbers[b], self.numbers[a]
        fa = self.faults(a, self.numbers[a], self.lines(a), self.boxes(a))
        fb = self.faults(b, self.numbers[b], self.lines(b), self.boxes(b))
        if fa[0] or fb[0] or self.score(fa) + self.score(fb) >= before - 0.01:
            self.numbers[a], self.numbers[b] = self.numbers[b], self.numbers[a]
            return False
        return True

    def name_far(self, i, w, h, away):
        """Gives numbered point i its name instead, in a w x h box a short
        leader away, if there is one whose leader crosses, and runs through,
        nothing, and which no leader runs through; whether it did."""
        p, r = self.ps[i], self.r
        number = self.numbers.pop(i)
        lines, boxes = self.lines(i), self.boxes(i)
        for k in range(1, 5):
            for b in ring(p, w, h, r + GAP + 1 + k * STEP, away, True):
                if self.free(i, b, boxes, CLEAR) and self.faults(i, b, lines, boxes)[:3] == (
                        0, 0, 0):
                    self.far[i] = b
                    return True
        self.numbers[i] = number
        return False


def place_map_labels(ax, points, numbers=None, avoid=(), size=40, key=True):
    """Labels the points [(x, y, text, colour)] (data coordinates; markers of
    scatter's size s): a name beside each point that stands apart; for the
    others a number (numbers[text], else its rank) beside the point or joined
    to it by a leader, and "number name" in a key in a free corner (unless
    `key` is false: the caller's key lists them); then a numbered point
    whose name fits a short, clear leader away gets its name instead. Call
    once the layout is final (after tight_layout); `avoid`: artists no label
    may cover (texts, error bars' line collections). Returns a Placed, with
    nothing drawn and `cramped` set when the key has no room in the panel."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    ax.apply_aspect()
    sizes_of = {}

    def size_of(text, size, weight="normal"):
        if (text, size, weight) not in sizes_of:
            sizes_of[text, size, weight] = measure(ax, renderer, text, size, weight)
        return sizes_of[text, size, weight]

    radius = 0.56 * math.sqrt(size) + 0.7  # points: an 'X' or 'o' with its edge
    placed = Placed(ax, list(points), radius)
    if not points:
        return placed
    numbers = numbers or {p[2]: k + 1 for k, p in enumerate(points)}
    r = radius * fig.dpi / 72
    frame = tuple(ax.bbox.extents)
    ps = [tuple(ax.transData.transform((x, y))) for x, y, _, _ in points]
    panel = Panel(ps, r, frame, *obstacles(avoid, renderer))
    n = len(ps)
    crowd = [[j for j in range(n) if j != i and math.dist(ps[i], ps[j]) < NEAR] for i in range(n)]
    order = sorted(range(n), key=lambda i: (len(crowd[i]), i))
    aways = []
    for i in range(n):
        # Away from the points around it (to the right when none, or all on it).
        near = [ps[j] for j in crowd[i]]
        dx = ps[i][0] - sum(x for x, _ in near) / len(near) if near else 0
        dy = ps[i][1] - sum(y for _, y in near) / len(near) if near else 0
        aways.append(math.atan2(dy, dx) if math.hypot(dx, dy) > 0.5 else 0.0)
    sizes = [size_of(p[2], NAME_SIZE) for p in points]

    # Names, the points that stand apart first: beside the point, clear of
    # every other marker, name and artist to avoid.
    for i in order:
        w, h = sizes[i]
        for b in beside(ps[i], w, h, r + GAP):
            if panel.free(i, b, panel.boxes(), CLEAR):
                panel.names[i] = b
                break

    # The key, where it covers no marker and the fewest names: those it
    # covers are numbered too, and the key laid out again.
    def entries():
        return [(i, str(numbers[points[i][2]]), points[i][2])
                for i in sorted((i for i in range(n) if i not in panel.names and i not in
                                 panel.far), key=lambda i: (numbers[points[i][2]], i))]

    bars = [(min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
            for a, b in panel.bars]
    while key and len(panel.names) < n:
        spot = key_spot(size_of, entries(), frame, panel.markers, panel.blocked + bars,
                        list(panel.names.values()))
        if not spot:
            placed.cramped = True
            return placed
        panel.key, rows, cols = spot
        covered = [i for i, b in panel.names.items() if overlap(panel.key, b, PAD)]
        if not covered:
            break
        for i in covered:
            del panel.names[i]

    # Numbers, all in boxes of one size (so that two can swap places), the
    # most crowded points' last; then their leaders untangled and those that
    # run through labels or markers moved if they can be.
    rest = [i for i in order if i not in panel.names]
    if rest:
        w = max(size_of(str(numbers[points[i][2]]), NUMBER_SIZE, "bold")[0]
                for i in rest) + 1
        h = size_of("0", NUMBER_SIZE, "bold")[1]
        for i in rest:
            panel.text[i] = size_of(str(numbers[points[i][2]]), NUMBER_SIZE, "bold")
        for i in rest:
            panel.numbers[i] = panel.number_spot(i, w, h, aways[i]) or next(
                ring(ps[i], w, h, r + GAP, aways[i]))
        panel.untangle()
        panel.repair(w, h, aways)
        for i in rest:
            panel.name_far(i, *sizes[i], aways[i])
        if panel.numbers and panel.key:
            w, h, rows = key_layout(size_of, entries(), cols)
            panel.key = shrunk(panel.key, w, h, frame)
        else:
            panel.key = None

    # Drawn in axes fractions, so that a save at another dpi keeps the places.
    to_axes = ax.transAxes.inverted()

    def text(xy, s, colour, size, **kw):
        return ax.text(*to_axes.transform(xy), s, transform=ax.transAxes, fontsize=size,
                       color=colour, zorder=4, **kw)

    def line(i, b):
        seg = panel.line(i, b)
        if seg:
            (x0, y0), (x1, y1) = to_axes.transform(seg)
            placed.leaders.append((i, ax.add_line(Line2D(
                [x0, x1], [y0, y1], transform=ax.transAxes, lw=0.5, color=points[i][3],
                alpha=0.8, zorder=2.5))))

    for i, b in sorted({**panel.names, **panel.far}.items()):
        placed.names.append((i, text(centre(b), points[i][2], points[i][3], NAME_SIZE,
                                     ha="center", va="center")))
        if i in panel.far:
            line(i, b)
    for i, b in sorted(panel.numbers.items()):
        placed.numbers.append((i, text(centre(b), str(numbers[points[i][2]]), points[i][3],
                                       NUMBER_SIZE, fontweight="bold", ha="center",
                                       va="center")))
        line(i, b)
    if panel.key:
        x0, y0, x1, y1 = panel.key
        (ax0, ay0), (ax1, ay1) = to_axes.transform([(x0, y0), (x1, y1)])
        placed.frame = ax.add_patch(Rectangle((ax0, ay0), ax1 - ax0, ay1 - ay0,
                                              transform=ax.transAxes, facecolor="white",
                                              edgecolor="#bbb", lw=0.5, alpha=0.9, zorder=3.5,
                                              clip_on=False))
        for i, right, left, y in rows:
            colour = points[i][3]
            placed.key.append((i, text((x0 + right, y0 + y), str(numbers[points[i][2]]), colour,
                                       NUMBER_SIZE, fontweight="bold", ha="right", va="center"),
                               text((x0 + left, y0 + y), points[i][2], colour, NUMBER_SIZE,
                                    ha="left", va="center")))
    return placed
