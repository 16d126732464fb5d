// Package images is berth's image store: content-addressed blobs in OCI
// image-spec form, a name/tag index, layers unpacked into shared read-only
// snapshot directories, and import/export of rootfs tarballs,
// docker-archives and OCI layouts.
//
// # On-disk layout
//
// Under the store root:
//
//	blobs/sha256/<hex>       blobs: OCI manifests, image configs, layers
//	                         (layers as given: tar, tar+gzip or tar+zstd)
//	snapshots/<diffid-hex>/  one unpacked layer, shared by every image and
//	                         container using it (overlay lower dir)
//	cache/filetree/<diffid-hex>  a layer's file list for the UI's Layers
//	                         tab (see filetree); deleted with its snapshot
//	ingest/<pid>-<rand>      a blob being written
//	tmp/<kind>-<pid>-<rand>  unpacks in progress, archive spools, snapshots
//	                         being deleted
//	steplocks/<hex>          flock of a build step being made, by its
//	                         cache key (see steplock.go); its holder
//	                         removes it
//	index.json               every image record with its tags, replaced
//	                         atomically (temp file, fsync, rename)
//	index.lock               flock held while index.json is rewritten
//	gc.lock                  flock: shared by operations that write or read
//	                         blobs, exclusive while garbage is deleted
//
// An image's ID is the digest of its config blob. Blobs are hashed as they
// are written and renamed into place only when complete (and verified when
// their digest was known); they are verified again when read for unpacking
// or saving. Snapshots are unpacked into tmp/ and renamed into place. An
// image becomes visible only when its record reaches index.json, after all
// its blobs and snapshots are in place, so a crash at any point leaves at
// worst unreferenced files: Open removes the leftovers of dead writers
// (items in ingest/ and tmp/ are flocked by their owner and carry its pid)
// and then collects unreferenced blobs and snapshots. The directories
// blobs and snapshots are renamed into are synced before the index names
// them, so that after a power cut too the index names only what exists.
// Check (check.go) verifies all of this, telling what a crash may leave
// (harmless) from what it may not (a problem).
//
// # Concurrency
//
// Any number of Store values, in any number of processes, may use one root
// at once; a Store holds no state besides its root and the last index it
// decoded (checked against index.json's identity before each use), so one
// value may also be shared between goroutines. Locks are taken per operation and never
// held between calls:
//
//   - index.lock, exclusively, only while index.json is read, changed and
//     rewritten;
//   - gc.lock, shared, for the whole of Import, Load, Save, Snapshots,
//     Resolve and History, so that garbage collection never deletes a blob
//     or snapshot that is about to be referenced or is being read;
//   - Check holds gc.lock shared for its whole run (exclusively with
//     Repair, waiting for it as Prune does) and takes index.lock inside
//     it, as garbage collection does.
//
// Build step locks (LockBuildStep, steplock.go) are the exception: the
// builder holds one while it makes that step, calls in between. It takes
// them before any of the store's own, and waits for one only while it
// holds none, so no cycle can form.
//
// Remove and Prune delete the index records first and then collect
// garbage under gc.lock held exclusively. Remove does not wait for it: if
// another operation holds it, the garbage stays until the next Remove,
// Prune or Open. Prune waits (until its context is done).
//
// Rules for callers: the InUseFunc given to Remove and Prune runs while
// index.lock is held and must not call back into the store. The
// directories Snapshots returns stay only as long as some image
// references the layers: make sure inUse reports the container's image as
// used (e.g. write the container record) before relying on them, or an
// rmi in between may delete them.
package images
