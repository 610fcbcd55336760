/**
 * Path patterns for `--exclude`, `--include` and `--exclude-file`, matched component by component:
 * `*` and `?` stay inside one name, `[abc]` is a class, `**` spans any number of names. A pattern
 * starting with `/` is anchored at the root; any other pattern matches at any depth (`*.log`
 * matches every `.log` file, `cache/tmp` every `tmp` inside a `cache`). A pattern that matches a
 * directory covers everything inside it.
 */
import { UserError } from '../domain/errors.ts';

type Part = { kind: 'any' } | { kind: 'name'; re: RegExp };

export class PathPattern {
  readonly source: string;
  private readonly parts: Part[];

  constructor(pattern: string) {
    this.source = pattern;
    const trimmed = pattern.trim();
    if (trimmed === '' || trimmed.includes('\0')) {
      throw new UserError(`invalid path pattern ${JSON.stringify(pattern)}`, {
        hint: 'give a glob such as "*.log", "/home/*/cache" or "node_modules"',
      });
    }
    const anchored = trimmed.startsWith('/');
    const names = trimmed.split('/').filter((n) => n !== '' && n !== '.');
    const parts: Part[] = anchored ? [] : [{ kind: 'any' }];
    for (const n of names) {
      if (n === '**') {
        if (parts.at(-1)?.kind !== 'any') parts.push({ kind: 'any' });
      } else parts.push({ kind: 'name', re: globToRegExp(n, pattern) });
    }
    this.parts = parts;
  }

  /** True when the path (absolute, '/'-separated) or one of its ancestors matches. */
  matches(path: string): boolean {
    const names = splitPath(path);
    // A match of any prefix covers the whole subtree below it.
    for (let i = 1; i <= names.length; i++)
      if (matchFrom(this.parts, 0, names.slice(0, i), 0, true)) return true;
    return false;
  }

  /** True when some path below this directory could match (so a walk must descend into it). */
  mayMatchBelow(dirPath: string): boolean {
    return matchFrom(this.parts, 0, splitPath(dirPath), 0, false);
  }
}

/** A set of patterns; empty sets match nothing. */
export class PatternSet {
  readonly patterns: PathPattern[];
  constructor(patterns: Iterable<string>) {
    this.patterns = [...patterns].map((p) => new PathPattern(p));
  }
  get empty(): boolean {
    return this.patterns.length === 0;
  }
  matches(path: string): boolean {
    return this.patterns.some((p) => p.matches(path));
  }
  mayMatchBelow(dirPath: string): boolean {
    return this.patterns.some((p) => p.mayMatchBelow(dirPath));
  }
}

/** Patterns from an exclude file: one per line; blank lines and lines starting with `#` are ignored. */
export function parsePatternFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((n) => n !== '');
}

/**
 * full=true: the whole name list must be consumed by the pattern. full=false: the names must be a
 * viable prefix of some match (the pattern may still need more names).
 */
function matchFrom(parts: Part[], pi: number, names: string[], ni: number, full: boolean): boolean {
  if (pi === parts.length) return ni === names.length;
  if (ni === names.length) return !full || parts.slice(pi).every((p) => p.kind === 'any');
  const part = parts[pi]!;
  if (part.kind === 'any') {
    // `**` consumes zero or more names.
    for (let k = ni; k <= names.length; k++) if (matchFrom(parts, pi + 1, names, k, full)) return true;
    return false;
  }
  return part.re.test(names[ni]!) && matchFrom(parts, pi + 1, names, ni + 1, full);
}

function globToRegExp(glob: string, whole: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]!);
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        throw new UserError(`invalid path pattern ${JSON.stringify(whole)}: unclosed "["`, {
          hint: 'close the character class, or write \\[ for a literal bracket',
        });
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$', 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
