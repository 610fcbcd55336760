// A local S3 server for tests: `node --openssl-legacy-provider s3rver-main.mjs DIR PORT BUCKET...`.
// Prints the port it listens on (loopback; 0 lets the OS choose) as the first line of stdout.
import process from 'node:process';
import S3rver from 's3rver';

const [dir, port, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port: listening } = await server.run();
process.stdout.write(`${listening}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
