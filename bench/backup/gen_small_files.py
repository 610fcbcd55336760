#!/usr/bin/env python3
"""A tree of many small files for the backup benchmark's --scale mode (deterministic, seeded).

usage: gen_small_files.py DIR COUNT

COUNT files of 40 B to 3 KB (text-like, so they compress) in directories of 100 files, grouped
100 directories per parent: d0000/s00/f000.txt ... A million files take ~1.5 GB of disk blocks
(one block per file) and a few minutes to write.
"""
import os
import random
import sys

WORDS = ("agent session cron job backup restore snapshot config token model prompt tool result "
         "error retry schedule deliver channel webhook message workspace memory file path").split()


def main():
    root, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(7)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n" for _ in range(5000)]
    made = 0
    d = 0
    while made < count:
        sub = os.path.join(root, f"d{d // 100:04d}", f"s{d % 100:02d}")
        os.makedirs(sub, exist_ok=True)
        for f in range(min(100, count - made)):
            size = rng.randint(40, 3000)
            body = []
            n = 0
            while n < size:
                line = rng.choice(lines)
                body.append(line)
                n += len(line)
            with open(os.path.join(sub, f"f{f:03d}.txt"), "w") as fh:
                fh.write("".join(body)[:size])
            made += 1
        d += 1
    print(f"generated {made} files in {d} directories")


if __name__ == "__main__":
    main()
