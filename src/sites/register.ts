// The built-in tree openers, registered with the engine's registry (src/engine/openers.ts)
// when this module is imported (by the API and the mirror command, which open trees from
// specs). Each loader is a static import thunk: a driver's code and its libraries (TLS,
// basic-ftp, ssh2) load only when a spec of its scheme is opened.
//
//   omirr://host[:port]/tree          another omirr node (src/net/client.ts)
//   ssh://[user@]host[:port]/path     omirr serve --stdio over ssh (src/net/ssh.ts)
//   ftp://, ftps://                   an FTP site, explicit TLS for ftps (./ftp.ts)
//   http://, https://                 index pages (Apache, nginx autoindex) (./http.ts)
//   sftp://[user@]host[:port]/path    any ssh server's SFTP subsystem (./sftp.ts)
import type { Tree } from '../core/tree.js';
import { registerOpener, type TreeOpener } from '../engine/openers.js';

// Each driver takes its own options type (FtpOpenOptions, ...), a narrower view of the
// open-ended OpenTreeOptions bag openTree passes on: the cast says so once, here.
type Open = (spec: string, opts: never) => Promise<Tree>;
const as = (f: Open): TreeOpener => f as unknown as TreeOpener;

registerOpener('omirr', async () => as((await import('../net/client.js')).connectTree));
registerOpener('ssh', async () => as((await import('../net/ssh.js')).sshTree));
registerOpener('ftp', async () => as((await import('./ftp.js')).openFtpTree));
registerOpener('ftps', async () => as((await import('./ftp.js')).openFtpTree));
registerOpener('http', async () => as((await import('./http.js')).openHttpTree));
registerOpener('https', async () => as((await import('./http.js')).openHttpTree));
registerOpener('sftp', async () => as((await import('./sftp.js')).openSftpTree));
