// DurableFile.swift: whole-file reads and durable writes through the C core
// (temporary file, fsync, rename, fsync of the directory; see fs.c for why).
import SMTorPCore

/// Whole-file I/O with the durability rules of the store.
public enum DurableFile {
    /// Creates `path` with `parts` as its content, durably, mode 0600.
    /// Fails with "exists" rather than replacing a file.
    public static func write(path: String, temporaryPath: String? = nil,
                             parts: [[UInt8]]) throws(CoreError) {
        let tmp = temporaryPath ?? (path + ".tmp")
        var pointers: [UnsafePointer<UInt8>?] = []
        let lengths = parts.map { $0.count }
        // Keep every part alive and pinned while the C call runs.
        let result: smtorp_result = withPinned(parts, index: 0, pointers: &pointers) { ptrs in
            ptrs.withUnsafeBufferPointer { p in
                smtorp_fs_write_durable(tmp, path, p.baseAddress, lengths, parts.count)
            }
        }
        try CoreError.check(result, context: path)
    }

    /// Reads a whole regular file of at most `maxLength` bytes.
    public static func read(path: String, maxLength: Int) throws(CoreError) -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        try CoreError.check(smtorp_fs_read_file(path, maxLength, &buffer, &length), context: path)
        defer { smtorp_free(buffer) }
        guard let buffer else { return [] }
        return Array(UnsafeBufferPointer(start: buffer, count: length))
    }

    /// Reads standard input to its end (at most `maxLength` bytes).
    public static func readStandardInput(maxLength: Int) throws(CoreError) -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        try CoreError.check(smtorp_fd_read_all(0, maxLength, &buffer, &length), context: "standard input")
        defer { smtorp_free(buffer) }
        guard let buffer else { return [] }
        return Array(UnsafeBufferPointer(start: buffer, count: length))
    }

    /// Creates a directory (and fsyncs its parent); fine if it exists.
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o700) throws(CoreError) {
        try CoreError.check(smtorp_fs_make_directory(path, mode), context: path)
    }

    /// Writes `path` durably, replacing a previous file of that name
    /// atomically: a reader, or a restart after a crash, sees the old file
    /// or the new one, never none (fs.c: temporary file, fsync, rename,
    /// fsync of the directory).
    public static func replace(path: String, temporaryPath: String? = nil, parts: [[UInt8]]) throws(CoreError) {
        let tmp = temporaryPath ?? (path + ".tmp")
        var pointers: [UnsafePointer<UInt8>?] = []
        let lengths = parts.map { $0.count }
        let result: smtorp_result = withPinned(parts, index: 0, pointers: &pointers) { ptrs in
            ptrs.withUnsafeBufferPointer { p in
                smtorp_fs_replace_durable(tmp, path, p.baseAddress, lengths, parts.count)
            }
        }
        try CoreError.check(result, context: path)
    }

    /// True when something exists at `path`.
    public static func exists(_ path: String) -> Bool { smtorp_fs_exists(path) != 0 }

    private static func withPinned(_ parts: [[UInt8]], index: Int,
                                   pointers: inout [UnsafePointer<UInt8>?],
                                   _ body: ([UnsafePointer<UInt8>?]) -> smtorp_result) -> smtorp_result {
        if index == parts.count { return body(pointers) }
        return parts[index].withUnsafeBufferPointer { buffer in
            pointers.append(buffer.baseAddress)
            return withPinned(parts, index: index + 1, pointers: &pointers, body)
        }
    }
}
