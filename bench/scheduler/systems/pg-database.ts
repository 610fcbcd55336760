/** A fresh PostgreSQL database per measurement on the local server ($NIGHTSHIFT_BENCH_PG), dropped after. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.NIGHTSHIFT_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ns_bench_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
