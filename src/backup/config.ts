/**
 * The repository's `config` file (docs/FORMAT.md, "Config"): two text lines, a JSON body and its
 * HMAC-SHA256 under a key derived from the metadata key. The body is readable before any key is
 * unlocked (it says which key mode to use) and authenticated right after.
 */
import { hmacHex, subkey, timingSafeEqualHex } from './crypto.ts';
import { FORMAT_VERSION, type ChunkerParams } from './format.ts';

export interface RepoConfig {
  v: number;
  id: string;
  mode: 'passphrase' | 'recipients';
  chunker: ChunkerParams;
  /** Recipients mode: the age recipients data is encrypted to. */
  recipients?: string[];
  created: string;
}

export function encodeConfig(cfg: RepoConfig, metaKey: Uint8Array): Buffer {
  const body = JSON.stringify(cfg);
  return Buffer.from(`${body}\n${hmacHex(subkey(metaKey, 'config'), body)}\n`);
}

/** Parses without authenticating; throws a plain Error describing the damage. */
export function parseConfig(bytes: Uint8Array): { cfg: RepoConfig; body: string; mac: string } {
  const text = Buffer.from(bytes).toString('utf8');
  const m = /^(\{.*\})\n([0-9a-f]{64})\n$/s.exec(text);
  if (!m) throw new Error('config file is malformed');
  let cfg: RepoConfig;
  try {
    cfg = JSON.parse(m[1]!) as RepoConfig;
  } catch {
    throw new Error('config file is malformed');
  }
  if (cfg.v !== FORMAT_VERSION)
    throw new Error(
      `config has format version ${String(cfg.v)}; this nightshift reads version ${FORMAT_VERSION}`,
    );
  if (cfg.mode !== 'passphrase' && cfg.mode !== 'recipients')
    throw new Error('config names an unknown key mode');
  return { cfg, body: m[1]!, mac: m[2]! };
}

export function verifyConfig(body: string, mac: string, metaKey: Uint8Array): boolean {
  return timingSafeEqualHex(hmacHex(subkey(metaKey, 'config'), body), mac);
}
