// One change as it travels between peers (an item of peer.changes), and as the replica keeps
// a record that could not be applied (src/replica/failures.ts). A plain type over the index
// record, so both the daemon and the replica below it can name it.
import type { IndexRecord } from './treeIndex.js';

export interface WireChange {
  tree: string;
  rec: IndexRecord;
  /** Set on the new path of a rename the sender's watcher paired: the receiver may rename instead of fetching. */
  movedFrom?: string;
  /** A small file's content, when it came inline with the record (src/daemon/inlineContent.ts); never stored in an outbox. */
  data?: Buffer;
}
