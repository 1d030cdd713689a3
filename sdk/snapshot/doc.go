// Package snapshot captures a source directory into a content-addressed
// blob store and describes it with a manifest, so that a training run can
// be given exactly the code it was submitted with.
//
// [Take] walks a directory, skips what its ignore rules exclude, stores
// every file by the SHA-256 of its content in a [BlobStore] and returns a
// [Manifest]: the sorted list of files and symlinks with their modes, sizes
// and digests. The manifest's own digest, [Manifest.ID], is the snapshot
// ID. [Restore] materialises a manifest into an empty directory, and [Diff]
// lists what changed between two manifests.
//
// # Ignore rules
//
// The root's .gantryignore is used if it exists, else its .amlignore, else
// its .gitignore. Files of the same name in subdirectories add rules for
// their subtree, as nested .gitignore files do in git. The rules follow
// gitignore(5): negation with "!", directory-only patterns ending in "/",
// patterns anchored with a leading or inner "/", "**", bracket expressions
// and backslash escapes; the last matching rule wins, and a path inside an
// excluded directory cannot be re-included. Entries named .git are always
// excluded, and so are the blob store and the stat cache when they lie
// inside the tree. [Options.Exclude] adds rules that no ignore file can
// override.
//
// # Limits
//
// A snapshot holds at most [DefaultMaxFiles] files and [DefaultMaxBytes]
// bytes unless [Options] says otherwise. The limits are checked before any
// file is read; a tree over them fails with a [*LimitError] that names the
// largest files and the directories holding the most files.
//
// # Blob store
//
// A blob lives at <dir>/<first two hex digits>/<64 hex digits>. It is
// written to a temporary file and renamed into place, so readers never see
// a partial blob and two writers of the same blob do no harm. A blob that
// is already present with the right size is not written again.
//
// # Stat cache
//
// Take remembers, per source root, each file's size, modification and
// change times, inode, device and mode together with its digest, in a file
// under the blob store (see [Options.CacheFile]). A file whose metadata is
// unchanged is not read again, so an unchanged tree re-snapshots in the time
// it takes to list it. A file modified within two seconds before a snapshot
// started is not trusted to the cache, since a further write in the same
// timestamp tick would leave its metadata unchanged; it is hashed again the
// next time.
//
// # Symlinks
//
// Symlinks are recorded, never followed. A symlink whose target resolves
// inside the tree is kept, with its target cleaned and relative. One that is
// absolute, or whose target lies outside the tree, is skipped with a
// [Warning] in [Stats] (or fails the snapshot when [Options.StrictSymlinks]
// is set); its target is never read. Sockets, pipes and devices are skipped
// with a warning. Empty directories are not recorded.
package snapshot
