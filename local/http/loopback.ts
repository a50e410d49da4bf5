/** HTTP servers of the local runtime on 127.0.0.1: bound first, given their handler after. */
import { createServer, type Server } from 'node:http';

/**
 * Binds a server on loopback before anything is planned, so the port in the URL that other resources
 * see is already held (asking for a free port and binding it later races with other processes).
 * `port` 0 takes any free port.
 */
export async function bindLoopback(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

/** The port a listening server holds. */
export function boundPort(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('server is not listening on a TCP port');
  return address.port;
}

/** Closes a server and any connection still open on it. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
