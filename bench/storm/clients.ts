/**
 * The storm clients' process (pinned to the load core), driven by the runner over IPC: Tandem's
 * (tandem-clients.ts) or Socket.IO's (socketio-clients.ts), one kind per storm.
 */
import { serveCommands } from './commands';
import { armSocketIo, closeSocketIo, connectSocketIo, waitSocketIo } from './socketio-clients';
import { armTandem, closeTandem, connectTandem, setTandemTarget, settleTandem, waitTandem } from './tandem-clients';
import type { ServerKind } from './settings';

export type ClientCommand =
  | { cmd: 'connect'; kind: ServerKind; base: string; count: number; addresses: string[] }
  | { cmd: 'settle'; offset: number; timeoutMs: number }
  | { cmd: 'arm'; kind: ServerKind }
  | { cmd: 'target'; offset: number }
  | { cmd: 'wait'; kind: ServerKind; timeoutMs: number }
  | { cmd: 'close' }
  | { cmd: 'exit' };

serveCommands<ClientCommand>(async (command) => {
  switch (command.cmd) {
    case 'connect':
      return command.kind === 'tandem' ? connectTandem(command.base, command.count, command.addresses) : connectSocketIo(command.base, command.count, command.addresses);
    case 'settle':
      return settleTandem(command.offset, command.timeoutMs);
    case 'arm':
      return command.kind === 'tandem' ? armTandem() : armSocketIo();
    case 'target':
      return setTandemTarget(command.offset);
    case 'wait':
      return command.kind === 'tandem' ? waitTandem(command.timeoutMs) : waitSocketIo(command.timeoutMs);
    case 'close':
      closeSocketIo();
      return closeTandem();
    case 'exit':
      return true;
  }
});
