"""Plausible wrong answers to lecture 00's exercises (see tests/exercise_harness.py)."""

MUTANTS = {
    "q1_knight_moves": [
        ("forgets the jumps that go back (only four of the eight)", '''def knight_moves(square):
    row, col = square
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1)]
    return [(row + dr, col + dc) for dr, dc in jumps if 0 <= row + dr < 8 and 0 <= col + dc < 8]
'''),
        ("lets the knight land on column/row 8 (off by one at the far edge)", '''def knight_moves(square):
    row, col = square
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    return [(row + dr, col + dc) for dr, dc in jumps if 0 <= row + dr <= 8 and 0 <= col + dc <= 8]
'''),
        ("drops the moves that land on row or column 0", '''def knight_moves(square):
    row, col = square
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    return [(row + dr, col + dc) for dr, dc in jumps if 0 < row + dr < 8 and 0 < col + dc < 8]
'''),
        ("has a typo in one jump, (-2, -2) for (-2, -1)", '''def knight_moves(square):
    row, col = square
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -2)]
    return [(row + dr, col + dc) for dr, dc in jumps if 0 <= row + dr < 8 and 0 <= col + dc < 8]
'''),
        ("never checks that the square is on the board", '''def knight_moves(square):
    row, col = square
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    return [(row + dr, col + dc) for dr, dc in jumps]
'''),
    ],
    "q2_colour_allows": [
        ("ignores the number of moves (asks only whether the colours are equal)", '''def colour_allows(start, target, n_moves):
    return (start[0] + start[1]) % 2 == (target[0] + target[1]) % 2
'''),
        ("gets the parity the wrong way round", '''def colour_allows(start, target, n_moves):
    return (start[0] + start[1] + target[0] + target[1]) % 2 != n_moves % 2
'''),
        ("uses the rows' parity only, not the colour", '''def colour_allows(start, target, n_moves):
    return (start[0] + target[0]) % 2 == n_moves % 2
'''),
        ("answers with the shortest distance instead of the invariant", '''def colour_allows(start, target, n_moves):
    from course_utils import blackbox
    dist = blackbox.chess_distances("knight", blackbox.square_name(*start))
    return int(dist[target]) == n_moves
'''),
        ("looks at the number of moves only", '''def colour_allows(start, target, n_moves):
    return n_moves % 2 == 0
'''),
        ("forbids n = 0 (thinks the knight has to move)", '''def colour_allows(start, target, n_moves):
    if n_moves == 0:
        return False
    return (start[0] + start[1] + target[0] + target[1]) % 2 == n_moves % 2
'''),
        ("caps n at 6, the farthest a knight ever needs", '''def colour_allows(start, target, n_moves):
    if n_moves > 6:
        return False
    return (start[0] + start[1] + target[0] + target[1]) % 2 == n_moves % 2
'''),
        ("adds a distance bound to the colour rule (not from the colours alone)", '''def colour_allows(start, target, n_moves):
    from course_utils import blackbox
    dist = blackbox.chess_distances("knight", blackbox.square_name(*start))
    return (start[0] + start[1] + target[0] + target[1]) % 2 == n_moves % 2 and int(dist[target]) <= n_moves
'''),
    ],
    "q3_reachable_colours": [
        ("treats edges as directed, u -> v only", '''def reachable_colours(colours, edges, start):
    adj = [[] for _ in colours]
    for u, v in edges:
        adj[u].append(v)
    seen, stack = {start}, [start]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return {colours[node] for node in seen}
'''),
        ("trusts the invariant instead of searching", '''def reachable_colours(colours, edges, start):
    return {colours[start]}
'''),
        ("looks one step only (start and its neighbours)", '''def reachable_colours(colours, edges, start):
    adj = blackbox.adjacency(len(colours), edges)
    return {colours[start]} | {colours[n] for n in adj[start]}
'''),
        ("searches two steps only", '''def reachable_colours(colours, edges, start):
    adj = blackbox.adjacency(len(colours), edges)
    near = {start} | set(adj[start])
    return {colours[n] for n in near | {m for n in near for m in adj[n]}}
'''),
        ("depth-limited search: gives up after 5 steps", '''def reachable_colours(colours, edges, start):
    adj = blackbox.adjacency(len(colours), edges)
    seen, frontier = {start}, [start]
    for _ in range(5):
        frontier = [m for n in frontier for m in adj[n] if m not in seen]
        seen |= set(frontier)
    return {colours[node] for node in seen}
'''),
        ("forgets to include the start node", '''def reachable_colours(colours, edges, start):
    adj = blackbox.adjacency(len(colours), edges)
    seen, stack = set(), [start]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return {colours[node] for node in seen}
'''),
        ("returns a list of colours, not a set", '''def reachable_colours(colours, edges, start):
    adj = blackbox.adjacency(len(colours), edges)
    seen, stack = {start}, [start]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return sorted({colours[node] for node in seen})
'''),
    ],
    "q4_breaks_needed": [
        ("counts squares minus one, as if there were always one piece", '''def breaks_needed(pieces):
    return sum(r * c for r, c in pieces) - 1
'''),
        ("counts the squares, not the breaks", '''def breaks_needed(pieces):
    return sum(r * c for r, c in pieces)
'''),
        ("counts the grid lines of each piece (breaks whole rows at once)", '''def breaks_needed(pieces):
    return sum((r - 1) + (c - 1) for r, c in pieces)
'''),
        ("counts interior grid crossings", '''def breaks_needed(pieces):
    return sum((r - 1) * (c - 1) for r, c in pieces)
'''),
    ],
    "q5_top1_changed": [
        ("mirrors with flip(-3), which swaps the colour channels R and B", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-3), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) != model(turns[view](images)).argmax(1)).float().mean())
'''),
        ("mirrors with flip(-2), which turns the rows over instead", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-2), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) != model(turns[view](images)).argmax(1)).float().mean())
'''),
        ("turns upside down by flipping the rows only (a vertical mirror, not a 180° turn)", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-1), "upside_down": lambda x: x.flip(-2),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) != model(turns[view](images)).argmax(1)).float().mean())
'''),
        ("turns a quarter clockwise instead of anticlockwise", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-1), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(-1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) != model(turns[view](images)).argmax(1)).float().mean())
'''),
        ("takes the argmax over the batch (dim 0) instead of over the classes", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-1), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(0) != model(turns[view](images)).argmax(0)).float().mean())
'''),
        ("returns the fraction unchanged, not changed", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-1), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) == model(turns[view](images)).argmax(1)).float().mean())
'''),
        ("returns the number of changed images, not the fraction", '''def top1_changed(model, images, view):
    turns = {"mirror": lambda x: x.flip(-1), "upside_down": lambda x: x.flip(-2, -1),
             "quarter_turn": lambda x: x.rot90(1, dims=(-2, -1))}
    if view not in turns:
        raise ValueError(view)
    return float((model(images).argmax(1) != model(turns[view](images)).argmax(1)).sum())
'''),
    ],
}
