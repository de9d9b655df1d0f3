// Maildir.swift: local delivery into one Maildir per mailbox
// (<root>/<mailbox>/{tmp,new,cur}).
//
// Each message is written to tmp/, fsynced, moved into new/ and new/ is
// fsynced (DurableFile / fs.c), so a message exists in new/ whole or not at
// all. The session's "250" goes out only after every recipient's copy is
// durable. Unique names follow the Maildir convention
// "<seconds>.<unique>.<host>", with the node's queue id as the unique part
// and "smtorp" as the host part: the machine's host name never appears.
//
// Untrusted input: the message bytes (copied, never interpreted) and the
// mailbox name, which comes from the node's own configured list only.
import SMTorPCore

/// A set of Maildirs under one root directory.
public struct Maildir: Sendable {
    /// The directory holding one Maildir per mailbox.
    public let root: String

    /// Creates the root directory (0700) when missing.
    public init(root: String) throws(CoreError) {
        self.root = root
        try DurableFile.makeDirectory(root)
    }

    /// Creates `<root>/<mailbox>/{tmp,new,cur}` when missing.
    public func prepare(mailbox: String) throws(CoreError) {
        let base = root + "/" + mailbox
        try DurableFile.makeDirectory(base)
        for sub in ["tmp", "new", "cur"] { try DurableFile.makeDirectory(base + "/" + sub) }
    }

    /// Durably stores one message for `mailbox` and returns the path in new/.
    public func deliver(mailbox: String, uniqueName: String,
                        parts: [[UInt8]]) throws(CoreError) -> String {
        try prepare(mailbox: mailbox)
        let base = root + "/" + mailbox
        let final = base + "/new/" + uniqueName
        try DurableFile.write(path: final, temporaryPath: base + "/tmp/" + uniqueName, parts: parts)
        return final
    }
}
