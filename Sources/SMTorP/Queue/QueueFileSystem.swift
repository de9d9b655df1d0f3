// QueueFileSystem.swift: the few file operations the queue needs beyond
// DurableFile, as thin typed wrappers of the C core (fs.c says why each
// fsync is there): atomic durable replacement, durable rename and removal,
// and directory listing.
//
// Untrusted input: names listed from the queue directories (returned as
// they are; QueueStore parses them). Paths are the node's own.
import SMTorPCore

/// File operations of the queue store.
enum QueueFileSystem {
    /// Replaces `path` with `bytes` atomically and durably (through
    /// `temporaryPath`, which must be on the same file system).
    static func replace(path: String, temporaryPath: String, bytes: [UInt8]) throws(CoreError) {
        try DurableFile.replace(path: path, temporaryPath: temporaryPath, parts: [bytes])
    }

    /// Renames `old` to `new` (replacing it) and makes both names durable.
    static func rename(_ old: String, to new: String) throws(CoreError) {
        try CoreError.check(smtorp_fs_rename_durable(old, new), context: old)
    }

    /// Removes `path` and fsyncs its directory; fine if it is gone.
    static func removeDurably(_ path: String) throws(CoreError) {
        try CoreError.check(smtorp_fs_remove_durable(path), context: path)
    }

    /// Removes `path` without waiting for the disk; fine if it is gone.
    static func remove(_ path: String) throws(CoreError) {
        try CoreError.check(smtorp_fs_remove(path), context: path)
    }

    /// The names in `directory`, sorted.
    static func list(_ directory: String) throws(CoreError) -> [String] {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        try CoreError.check(smtorp_fs_list_directory(directory, &buffer, &length), context: directory)
        defer { smtorp_free(buffer) }
        guard let buffer, length > 0 else { return [] }
        let bytes = UnsafeBufferPointer(start: buffer, count: length)
        var names: [String] = []
        var start = 0
        for index in 0..<length where bytes[index] == 0 {
            names.append(String(decoding: bytes[start..<index], as: UTF8.self))
            start = index + 1
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
