// A local S3 server for tests: `node --openssl-legacy-provider s3rver-main.mjs DIR PORT BUCKET...`.
// Prints the port it listens on (loopback; 0 lets the OS choose) as the first line of stdout.
// With S3RVER_KEY and S3RVER_CERT (PEM files) it speaks HTTPS: clients that sign uploads in
// aws-chunked form over plain HTTP (restic's minio-go) send plain bodies over TLS, which s3rver reads.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import S3rver from 's3rver';

const [dir, port, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
  ...(process.env.S3RVER_KEY && process.env.S3RVER_CERT
    ? { key: readFileSync(process.env.S3RVER_KEY), cert: readFileSync(process.env.S3RVER_CERT) }
    : {}),
});
const { port: listening } = await server.run();
process.stdout.write(`${listening}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
