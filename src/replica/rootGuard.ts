// A tree's directory that is no longer the file system its index describes. The classic
// case is a mount that is missing: after a reboot with a failed mount (or an unmount while
// the daemon runs) the tree's path is the empty directory the file system was mounted on.
// A scan then finds every indexed file gone, and taking that as the user's deletes would
// send a delete of every file to every peer, and each of them would empty its copy.
// Syncthing guards against this with a marker file in the folder, Unison by refusing to
// propagate an emptied replica. omirr puts nothing in the tree: it remembers the device
// (st_dev) the root was on when the index was saved, and refuses a scan whose deletes come
// with a different device and take away more than half of what the index has. A device
// number that changes while the tree stays (a btrfs subvolume or a device-mapper volume
// numbered differently after a reboot) loses little and is taken as the new device.

/** What one scan saw of the root, against what the index knew. */
export interface RootCheck {
  /** The device the root was on when the index was last saved (or loaded, for an index that did not say). */
  devKnown: number | undefined;
  /** The device the root is on now. */
  devNow: number;
  /** Live (not deleted) records the scan covered. */
  live: number;
  /** Of those, the ones the scan found gone. */
  vanished: number;
}

/** Why the scan's deletes must not be taken (the tree's file system is not the one indexed), or null. */
export function lostRootReason(c: RootCheck): string | null {
  if (c.devKnown === undefined || c.devKnown === c.devNow) return null;
  if (c.vanished === 0 || c.vanished * 2 <= c.live) return null;
  return `the tree's directory is on another file system than its index (device ${c.devNow}, indexed on ${c.devKnown}) and ${c.vanished} of ${c.live} indexed entries are gone: a mount that is missing? Nothing is deleted or sent; the tree is tried again (or at \`omirr rescan\`)`;
}

/** Thrown where a tree's scan or change refuses to go on because its root is not the indexed one. */
export class TreeRootChangedError extends Error {
  override name = 'TreeRootChangedError';
}
