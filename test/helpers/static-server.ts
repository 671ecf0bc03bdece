// A static file server on loopback for tests that fetch files the way a page does: GET of files under a root,
// with Content-Length and a content type, 404 for anything else (and for paths leaving the root).
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

export interface StaticServer {
  server: Server;
  /** http://127.0.0.1:port */
  base: string;
  close(): Promise<void>;
}

/** Serves `root` (and `extra` paths -> bodies first: generated pages). */
export async function staticServer(root: string, extra: Record<string, string> = {}): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    if (extra[path] !== undefined) {
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'text/html', 'content-length': Buffer.byteLength(extra[path]) }).end(extra[path]);
      return;
    }
    const file = normalize(join(root, path));
    if (!(file + sep).startsWith(normalize(root) + sep) && file !== normalize(root)) return void res.writeHead(404).end();
    if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { server, base, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
