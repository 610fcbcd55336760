/**
 * A MariaDB/MySQL source or restore target as users write it: a database name (the local server,
 * the client's defaults) or `mysql://user@host:port/db` (also `mariadb://`). Dumps, restores and
 * drills read it here, so a drill's scratch database lands on the same server as the live one.
 */
export interface MysqlTarget {
  /** Connection flags for mariadb / mariadb-dump (empty for a bare name). */
  connection: string[];
  db: string;
  /** Rebuilds the target with another database name on the same server. */
  withDb(db: string): string;
}

const URL_FORM = /^((?:mysql|mariadb):\/\/(?:([^@/]+)@)?([^/:]+)(?::(\d+))?)\/([^?]+)$/;

export function mysqlTarget(target: string): MysqlTarget {
  const m = URL_FORM.exec(target);
  if (!m) return { connection: [], db: target, withDb: (db) => db };
  const connection: string[] = [];
  if (m[2]) connection.push(`--user=${decodeURIComponent(m[2])}`);
  connection.push(`--host=${m[3]}`);
  if (m[4]) connection.push(`--port=${m[4]}`);
  const base = m[1]!;
  return { connection, db: decodeURIComponent(m[5]!), withDb: (db) => `${base}/${encodeURIComponent(db)}` };
}
