#!/usr/bin/env python3
"""The top-level module graph of runtime/src, read off its imports (issue #17).

Edges come from `crate::X` paths outside comments, with the crate root's re-exports resolved
to the module that defines them. Prints each module's imports and the strongly connected
groups (cycles). With `--outside-cycles M [M ...]` it exits 1 if any named module is in a
cycle (CI runs it for `sched`: nothing below the scheduler may name it).

Usage: python3 .ci/modgraph.py [--outside-cycles sched ...]
"""
import os, re, sys
args = sys.argv[1:]
must_be_acyclic = args[args.index('--outside-cycles') + 1:] if '--outside-cycles' in args else []
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'runtime', 'src')
lib = open(os.path.join(src, 'lib.rs')).read()
mods = re.findall(r'^(?:pub(?:\(crate\))? )?mod (\w+);', lib, re.M)
# root re-exports: pub use a::{b, c}; pub(crate) use a::b;
reexp = {}
for m in re.finditer(r'^(?:pub(?:\(crate\))? )?use (\w+)::(\{[^}]*\}|\w+)', lib, re.M):
    mod, names = m.group(1), m.group(2)
    for n in re.findall(r'\w+', names):
        reexp[n] = mod
# macros exported at the root
for m in re.finditer(r'macro_rules!\s+(\w+)', open(os.path.join(src, 'macros.rs')).read()):
    reexp[m.group(1)] = 'macros'
reexp['coroutine_local'] = 'local' if 'coroutine_local' not in reexp else reexp['coroutine_local']
edges = {m: set() for m in mods}
for m in mods:
    paths = [os.path.join(src, m + '.rs')]
    d = os.path.join(src, m)
    if os.path.isdir(d):
        for root, _, files in os.walk(d):
            paths += [os.path.join(root, f) for f in files if f.endswith('.rs')]
    for p in paths:
        if not os.path.exists(p):
            continue
        text = open(p).read()
        text = re.sub(r'//.*', '', text)  # comments and doc links do not count
        for t in re.findall(r'crate::(\w+)', text):
            t = t if t in edges else reexp.get(t)
            if t and t != m:
                edges[m].add(t)
        for t in re.findall(r'crate::\{([^}]*)\}', text):
            for n in re.findall(r'(\w+)(?:::|,|\s|$)', t):
                n = n if n in edges else reexp.get(n)
                if n and n != m:
                    edges[m].add(n)
for m in sorted(edges):
    print(f'{m:10} -> {" ".join(sorted(edges[m]))}')
# strongly connected components (Tarjan)
idx, low, st, on, comps, i = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = i[0]; i[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx:
            sc(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        c = []
        while True:
            w = st.pop(); on.discard(w); c.append(w)
            if w == v: break
        comps.append(c)
for v in edges:
    if v not in idx: sc(v)
cyc = [sorted(c) for c in comps if len(c) > 1]
print('cycles:', cyc if cyc else 'none')
bad = [m for m in must_be_acyclic if any(m in c for c in cyc)]
if bad:
    print('modgraph: in a cycle, and must not be:', ' '.join(bad))
    sys.exit(1)
