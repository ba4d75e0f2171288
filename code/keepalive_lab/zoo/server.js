// The zoo's Node.js server: node server.js PORT MAX_CONNECTIONS KEEP_ALIVE_MS
//
// It answers "ok" at once. MAX_CONNECTIONS > 0 sets server.maxConnections, and
// KEEP_ALIVE_MS > 0 sets server.keepAliveTimeout (how long an idle keep-alive
// connection stays open); 0 keeps Node's default for either. It listens on
// 127.0.0.1 only and prints "listening on 127.0.0.1:PORT" once it does.
'use strict';

const http = require('http');

const [port, maxConnections, keepAliveMs] = process.argv.slice(2).map(Number);

const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.setHeader('Content-Length', '3');
  res.end('ok\n');
});
if (maxConnections > 0) {
  server.maxConnections = maxConnections;
}
if (keepAliveMs > 0) {
  server.keepAliveTimeout = keepAliveMs;
}
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${address.address}:${address.port}`);
});
process.on('SIGTERM', () => process.exit(0));
