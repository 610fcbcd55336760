#!/usr/bin/env python3
"""A tree of many small files for the backup benchmark's --scale mode (deterministic, seeded).

usage: gen_small_files.py DIR COUNT
       gen_small_files.py mutate DIR STEP [CHANGES]


COUNT files of 40 B to 3 KB (text-like, so they compress) in directories of 100 files, grouped
100 directories per parent: d0000/s00/f000.txt ... A million files take ~1.5 GB of disk blocks
(one block per file) and a few minutes to write.

`mutate` is one small step of the --growth mode: it rewrites CHANGES existing files (default 5),
adds one and deletes one, chosen from STEP (deterministic), so successive snapshots differ a little.
"""
import os
import random
import sys

WORDS = ("agent session cron job backup restore snapshot config token model prompt tool result "
         "error retry schedule deliver channel webhook message workspace memory file path").split()


def text_lines(rng):
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n" for _ in range(5000)]


def body_of(rng, lines, size):
    body = []
    n = 0
    while n < size:
        line = rng.choice(lines)
        body.append(line)
        n += len(line)
    return "".join(body)[:size]


def mutate(root, step, changes):
    rng = random.Random(1000003 * step + 11)
    lines = text_lines(random.Random(7))
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    for p in rng.sample(files, min(changes + 1, len(files))):
        with open(p, "w") as fh:
            fh.write(body_of(rng, lines, rng.randint(40, 3000)))
    os.remove(files[rng.randrange(len(files))])
    sub = os.path.dirname(files[rng.randrange(len(files))])
    with open(os.path.join(sub, f"n{step:06d}.txt"), "w") as fh:
        fh.write(body_of(rng, lines, rng.randint(40, 3000)))


def main():
    if sys.argv[1] == "mutate":
        mutate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 5)
        return
    root, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(7)
    lines = text_lines(rng)
    made = 0
    d = 0
    while made < count:
        sub = os.path.join(root, f"d{d // 100:04d}", f"s{d % 100:02d}")
        os.makedirs(sub, exist_ok=True)
        for f in range(min(100, count - made)):
            with open(os.path.join(sub, f"f{f:03d}.txt"), "w") as fh:
                fh.write(body_of(rng, lines, rng.randint(40, 3000)))
            made += 1
        d += 1
    print(f"generated {made} files in {d} directories")


if __name__ == "__main__":
    main()
