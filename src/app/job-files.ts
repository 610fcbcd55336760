/**
 * Reading job files: paths (files, or directories read recursively for *.yaml, *.yml, *.json)
 * into validated jobs and backup profiles (`kind: backup-profile` documents), each knowing the
 * file and line it came from. Every problem of every file
 * is collected (YAML syntax, unknown key, a value the job model refuses, a template name that is
 * not defined, a name declared twice) and reported together as `file:line: key: message`; the
 * caller writes nothing unless there is none.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parse, parseAllDocuments } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import type { z } from 'zod';
import { EXIT, UserError } from '../domain/errors.ts';
import { displayPath } from './display-path.ts';
import type { Job } from '../domain/job.ts';
import { buildJob } from '../domain/job-validation.ts';
import { jobDocumentSchema } from '../domain/job-file-schema.ts';
import type { JobDocument } from '../domain/job-file-schema.ts';
import { documentToInput, inFileTerms } from '../domain/job-file.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import {
  PROFILE_KIND,
  inProfileFileTerms,
  profileDocumentSchema,
  profileDocumentToWords,
} from '../domain/profile-file.ts';
import type { ProfileDocument } from '../domain/profile-file.ts';
import { renderValue } from './job-template.ts';
import { profileFromFields } from './profile-fields.ts';

export interface DeclaredJob {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line where the document starts. */
  line: number;
  /** The document after templates were filled in (without `vars`). */
  doc: JobDocument;
  /** The job it declares, validated, with defaults and `source: {kind: file}`. */
  job: Job;
  /** Line of a top-level key of the document (the document's line when absent). */
  lineOf(key: string): number;
}

/** A backup profile a file declares (`kind: backup-profile`). */
export interface DeclaredProfile {
  file: string;
  line: number;
  doc: ProfileDocument;
  /** The profile it declares, validated, with `source: {kind: file}` (its repository is not checked here). */
  profile: BackupProfile;
  lineOf(key: string): number;
}

export interface FileProblem {
  file: string;
  line: number;
  /** The document key the problem is about, when there is one. */
  key?: string;
  message: string;
  hint?: string;
}

export interface LoadOptions {
  /** A YAML or JSON file of template values (`--values`). */
  valuesFile?: string;
  nowMs: number;
  newId: () => string;
}

export interface LoadResult {
  jobs: DeclaredJob[];
  profiles: DeclaredProfile[];
  problems: FileProblem[];
  /** Every file read, absolute. */
  files: string[];
  /** The paths given, absolute (what `--prune` may prune under). */
  roots: string[];
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The job files a path names: itself, or every *.yaml/*.yml/*.json under it, sorted. */
function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: false })
    .map((p) => join(path, String(p)))
    .filter((p) => EXTENSIONS.has(extname(p).toLowerCase()) && statSync(p).isFile())
    .sort();
}

/** `file:line: key: message` lines, one per problem, as a single UserError (exit 2). */
export function problemsError(problems: FileProblem[]): UserError {
  const lines = problems.map((p) => `  ${displayPath(p.file)}:${p.line}: ${p.message}`);
  const err = new UserError(
    `${problems.length === 1 ? '1 problem' : `${problems.length} problems`} in the job files; nothing was changed:\n${lines.join('\n')}`,
    {
      hint:
        problems.length === 1 && problems[0]!.hint
          ? problems[0]!.hint
          : 'fix the files and run again; `nightshift schema jobs` prints the format as JSON Schema',
      exitCode: EXIT.usage,
      code: 'invalid_job_file',
    },
  );
  return Object.assign(err, { problems });
}

function readValues(file: string): Record<string, unknown> {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new UserError(`--values: cannot read ${abs}: ${(err as Error).message}`, {
      hint: 'give a YAML or JSON file of template values',
    });
  }
  let v: unknown;
  try {
    v = parse(text);
  } catch (err) {
    throw new UserError(`--values: ${displayPath(abs)}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'the values file is YAML (or JSON)',
    });
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new UserError(`--values: ${displayPath(abs)} must hold a mapping of names to values`, {
      hint: 'e.g. agents: {bruba-main: {reset_cycle: true}}',
    });
  return v as Record<string, unknown>;
}

function keyLines(node: Node | null, lc: LineCounter): Map<string, number> {
  const out = new Map<string, number>();
  if (node && isMap(node)) {
    for (const pair of (node as YAMLMap).items) {
      const k = pair.key;
      if (isScalar(k) && k.range) out.set(String(k.value), lc.linePos(k.range[0]).line);
    }
  }
  return out;
}

/** Reads, renders and validates the job files under `paths`. Problems are returned, not thrown. */
export function loadJobFiles(paths: string[], opts: LoadOptions): LoadResult {
  const values = opts.valuesFile !== undefined ? readValues(opts.valuesFile) : {};
  const problems: FileProblem[] = [];
  const jobs: DeclaredJob[] = [];
  const profiles: DeclaredProfile[] = [];
  const roots = paths.map((p) => resolve(p));
  const files: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) {
      problems.push({
        file: root,
        line: 0,
        message: 'no such file or directory',
        hint: 'give job files or directories of them',
      });
      continue;
    }
    files.push(...filesUnder(root));
  }
  // The values file may sit beside the jobs; it is not a job file.
  const valuesPath = opts.valuesFile !== undefined ? resolve(opts.valuesFile) : undefined;
  const jobFiles = [...new Set(files)].filter((f) => f !== valuesPath);
  for (const file of jobFiles)
    for (const d of loadFile(file, values, opts, problems))
      if ('job' in d) jobs.push(d);
      else profiles.push(d);

  // A name declared twice is refused: which of the two would win is a guess.
  const once = (list: Array<{ name: string; d: DeclaredJob | DeclaredProfile }>, what: string): void => {
    const byName = new Map<string, DeclaredJob | DeclaredProfile>();
    for (const { name, d } of list) {
      const first = byName.get(name);
      if (first) {
        problems.push({
          file: d.file,
          line: d.lineOf('name'),
          key: 'name',
          message: `name: ${what === 'job' ? '' : `${what} `}${name} is also declared at ${displayPath(first.file)}:${first.lineOf('name')}`,
          hint: `${what} names are unique; rename one of them`,
        });
      } else byName.set(name, d);
    }
  };
  once(
    jobs.map((d) => ({ name: d.job.name, d })),
    'job',
  );
  once(
    profiles.map((d) => ({ name: d.profile.name, d })),
    'backup profile',
  );
  return { jobs, profiles, problems, files: jobFiles, roots };
}

function loadFile(
  file: string,
  values: Record<string, unknown>,
  opts: LoadOptions,
  problems: FileProblem[],
): Array<DeclaredJob | DeclaredProfile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ file, line: 0, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
  const lc = new LineCounter();
  // JSON is YAML too: one parser keeps line numbers for both.
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Array<DeclaredJob | DeclaredProfile> = [];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, 3))
        problems.push({
          file,
          line: lc.linePos(e.pos[0]).line,
          message: `YAML: ${e.message.split('\n')[0]}`,
          hint: 'fix the YAML syntax (indentation, quotes, a missing colon)',
        });
      continue;
    }
    const contents = doc.contents as Node | null;
    if (contents === null) continue; // an empty document (a trailing ---)
    const docLine = contents.range ? lc.linePos(contents.range[0]).line : 1;
    // A JSON file (or a YAML document) may hold a list of jobs.
    const items: Array<{ node: Node | null; value: unknown; line: number }> = isSeq(contents)
      ? contents.items.map((n) => {
          const node = n as Node;
          return {
            node,
            value: node && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : node,
            line: node?.range ? lc.linePos(node.range[0]).line : docLine,
          };
        })
      : [{ node: contents, value: doc.toJS() as unknown, line: docLine }];
    for (const item of items) {
      const declared = loadDocument(file, item.node, item.value, item.line, lc, values, opts, problems);
      if (declared) out.push(declared);
    }
  }
  return out;
}

function loadDocument(
  file: string,
  node: Node | null,
  raw: unknown,
  line: number,
  lc: LineCounter,
  values: Record<string, unknown>,
  opts: LoadOptions,
  problems: FileProblem[],
): DeclaredJob | DeclaredProfile | undefined {
  const lines = keyLines(node, lc);
  const lineOf = (key: string): number => lines.get(key) ?? line;
  const problem = (key: string | undefined, message: string, hint?: string): undefined => {
    problems.push({
      file,
      line: key ? lineOf(key) : line,
      ...(key ? { key } : {}),
      message,
      ...(hint ? { hint } : {}),
    });
    return undefined;
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return problem(
      undefined,
      'a document must be a mapping of keys (name:, cron:, command: ... or kind: backup-profile, repo: ...)',
    );
  const obj = raw as Record<string, unknown>;
  const vars = obj.vars;
  if (vars !== undefined && (typeof vars !== 'object' || vars === null || Array.isArray(vars)))
    return problem('vars', 'vars: must be a mapping of names to values');
  const context = { ...values, ...(vars as Record<string, unknown> | undefined) };
  const rendered: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'vars') continue;
    try {
      rendered[k] = renderValue(v, context);
    } catch (err) {
      if (err instanceof UserError) return problem(k, `${k}: ${err.message}`, err.hint);
      throw err;
    }
  }
  if (rendered.kind === PROFILE_KIND) return loadProfile(file, rendered, line, lineOf, opts, problem);
  if (rendered.kind !== undefined && rendered.kind !== 'job')
    return problem(
      'kind',
      `kind: must be job (the default) or ${PROFILE_KIND}, got ${JSON.stringify(rendered.kind)}`,
      `a document declares a job, or with kind: ${PROFILE_KIND} a backup profile`,
    );
  const parsed = jobDocumentSchema.safeParse(rendered);
  if (!parsed.success) {
    reportShape(parsed.error.issues, rendered, problem, 'every job needs a name', 'nightshift cron add');
    return undefined;
  }
  const doc = parsed.data;
  let job: Job;
  try {
    job = buildJob(documentToInput(doc), opts.nowMs, opts.newId);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const { key, message } = inFileTerms(err, doc);
    return problem(key, message, err.hint);
  }
  job.source = { kind: 'file', path: file };
  return { file, line, doc, job, lineOf };
}

type Problem = (key: string | undefined, message: string, hint?: string) => undefined;

/** A document's shape problems (zod issues), one per key, in the file's words. */
function reportShape(
  issues: z.core.$ZodIssue[],
  rendered: Record<string, unknown>,
  problem: Problem,
  missingHint: string,
  command: string,
): void {
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys)
        problem(
          k,
          `${k}: unknown key`,
          k === 'password'
            ? 'a passphrase is never stored; give where it lives: password-ref: env:NAME or file:/path'
            : `keys are the \`${command}\` flags without the dashes (see \`nightshift schema jobs\`)`,
        );
      continue;
    }
    const key = issue.path.length > 0 ? String(issue.path[0]) : undefined;
    const where = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .slice(1);
    const missing = key !== undefined && issue.path.length === 1 && rendered[key] === undefined;
    problem(
      key,
      `${where || 'document'}: ${missing ? 'missing' : issue.message}`,
      missing ? missingHint : 'see `nightshift schema jobs` for the format',
    );
  }
}

/** A `kind: backup-profile` document: the same words as `backup profile add`, read the same way. */
function loadProfile(
  file: string,
  rendered: Record<string, unknown>,
  line: number,
  lineOf: (key: string) => number,
  opts: LoadOptions,
  problem: Problem,
): DeclaredProfile | undefined {
  const parsed = profileDocumentSchema.safeParse(rendered);
  if (!parsed.success) {
    reportShape(
      parsed.error.issues,
      rendered,
      problem,
      'a backup profile needs a name and a repo',
      'nightshift backup profile add',
    );
    return undefined;
  }
  const doc = parsed.data;
  let profile: BackupProfile;
  try {
    profile = profileFromFields(doc.name, profileDocumentToWords(doc), undefined, opts.nowMs, dirname(file));
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const { key, message } = inProfileFileTerms(err.message);
    return problem(key, message, err.hint?.replace(/--([a-z])/g, '$1'));
  }
  profile.source = { kind: 'file', path: file };
  return { file, line, doc, profile, lineOf };
}

/** Every declared job and profile, in file order, or the UserError listing every problem (`render`). */
export function renderDocuments(
  paths: string[],
  opts: LoadOptions,
): Array<{ file: string; line: number; doc: Record<string, unknown> }> {
  const loaded = loadJobFiles(paths, opts);
  if (loaded.problems.length > 0) throw problemsError(loaded.problems);
  return [...loaded.profiles, ...loaded.jobs].sort((a, b) =>
    a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1,
  );
}

/** The rendered documents of the job files, or the UserError listing every problem (`render`). */
export function renderJobFiles(paths: string[], opts: LoadOptions): DeclaredJob[] {
  const loaded = loadJobFiles(paths, opts);
  if (loaded.problems.length > 0) throw problemsError(loaded.problems);
  return loaded.jobs;
}
