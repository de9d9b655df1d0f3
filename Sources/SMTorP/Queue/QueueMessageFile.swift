// QueueMessageFile.swift: the format of `queue/msg/<id>`, the immutable file
// that holds one queued message, and its strict parser.
//
//   smtorp-queue 1\n
//   id <queue id>\n
//   created <unix seconds>\n
//   from <reverse-path>\n            "from <>" for the null reverse path
//   rcpt <forward-path>\n            one line per recipient, in order
//   stamp <index> <stamp>\n          optional: the proof-of-work stamp the
//                                    submitter carried for recipient <index>
//                                    (docs/spec.md §5.4), used for the first
//                                    attempt only
//   size <octets>\n
//   \n
//   <exactly `size` octets of message text>
//   END <octets>\n
//
// The file is written once (QueueStore.enqueue) and never changed. The
// size in the header and the trailer after the text let a reader tell a
// whole file from one cut short anywhere: a file that does not parse to the
// last octet is incomplete and is never delivered, not even in part.
//
// Untrusted input: the file is ours, but the paths and the text in it came
// from a local submitter or a peer, and the file may have been damaged on
// disk or put there by hand; every line is checked and paths are parsed
// with the RFC 5321 path parser.
// Standards: RFC 5321 §4.1.2 (paths, as written in the header).

/// The envelope stored in a message file, and the file's format.
struct QueueMessageFile: Equatable, Sendable {
    var id: QueueID
    var arrival: Int64
    var reversePath: Mailbox?
    var recipients: [Mailbox]
    var size: Int
    /// Carried stamps by recipient index.
    var stamps: [Int: String] = [:]

    /// The first line of every message file: format and version.
    static let versionLine = "smtorp-queue 1"
    /// The longest header line accepted when parsing.
    static let maximumLineLength = 2048

    /// The header: everything before the message text.
    func header() -> [UInt8] {
        var text = Self.versionLine + "\n"
        text += "id " + id.text + "\n"
        text += "created " + String(arrival) + "\n"
        text += "from <" + (reversePath?.text ?? "") + ">\n"
        for recipient in recipients {
            text += "rcpt <" + recipient.text + ">\n"
        }
        for index in stamps.keys.sorted() {
            if let stamp = stamps[index] { text += "stamp " + String(index) + " " + stamp + "\n" }
        }
        text += "size " + String(size) + "\n\n"
        return Array(text.utf8)
    }

    /// The trailer after the message text.
    func trailer() -> [UInt8] {
        Array(("END " + String(size) + "\n").utf8)
    }

    /// Parses a whole message file named `id`; returns the envelope and the
    /// range of the message text, or throws `.corrupt` naming what is wrong.
    static func parse(_ bytes: [UInt8], id: QueueID) throws(QueueError) -> (file: QueueMessageFile, text: Range<Int>) {
        var index = 0
        func damaged(_ reason: String) -> QueueError { .corrupt(id, reason: reason) }
        /// The next line without its LF, or nil when the file ends first.
        func nextLine() -> [UInt8]? {
            var end = index
            while end < bytes.count && bytes[end] != 0x0A {
                if end - index > maximumLineLength { return nil }
                end += 1
            }
            guard end < bytes.count else { return nil }
            let line = Array(bytes[index..<end])
            index = end + 1
            return line
        }
        func field(_ name: String, _ line: [UInt8]?) -> [UInt8]? {
            let prefix = Array((name + " ").utf8)
            guard let line, line.count > prefix.count, Array(line.prefix(prefix.count)) == prefix else { return nil }
            return Array(line.dropFirst(prefix.count))
        }
        guard let version = nextLine() else { throw damaged("no header") }
        guard version == Array(versionLine.utf8) else { throw damaged("unknown format") }
        guard let idText = field("id", nextLine()), idText == Array(id.text.utf8) else {
            throw damaged("id line missing or not the file's name")
        }
        guard let createdText = field("created", nextLine()), let arrival = decimal(createdText) else {
            throw damaged("created line missing or malformed")
        }
        guard let fromText = field("from", nextLine()),
              let fromPath = try? Path.parse(fromText, limits: Limits(), allowsNull: true) else {
            throw damaged("from line missing or malformed")
        }
        var recipients: [Mailbox] = []
        var line = nextLine()
        while let rcptText = field("rcpt", line) {
            guard let path = try? Path.parse(rcptText, limits: Limits(), allowsNull: false),
                  let mailbox = path.mailbox else {
                throw damaged("malformed rcpt line")
            }
            recipients.append(mailbox)
            line = nextLine()
        }
        guard !recipients.isEmpty else { throw damaged("no recipients") }
        var stamps: [Int: String] = [:]
        while let stampText = field("stamp", line) {
            let parts = stampText.split(separator: 0x20, maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let index = decimal(Array(parts[0])), index < Int64(recipients.count),
                  stamps[Int(index)] == nil, !parts[1].isEmpty,
                  parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3D }) else {
                throw damaged("malformed stamp line")
            }
            stamps[Int(index)] = String(decoding: parts[1], as: UTF8.self)
            line = nextLine()
        }
        guard let sizeText = field("size", line), let size64 = decimal(sizeText) else {
            throw damaged("size line missing or malformed")
        }
        guard let blank = nextLine(), blank.isEmpty else { throw damaged("header not ended by an empty line") }
        let size = Int(size64)
        guard bytes.count - index >= size else { throw damaged("message text cut short") }
        let text = index..<(index + size)
        index += size
        let file = QueueMessageFile(id: id, arrival: arrival, reversePath: fromPath.mailbox,
                                    recipients: recipients, size: size, stamps: stamps)
        guard Array(bytes[index...]) == file.trailer() else {
            throw damaged("trailer missing or wrong (the file was cut short or has extra bytes)")
        }
        return (file, text)
    }

    /// A non-negative decimal number of at most 18 digits, nothing else.
    static func decimal(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
