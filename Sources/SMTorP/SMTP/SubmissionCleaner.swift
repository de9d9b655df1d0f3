// SubmissionCleaner.swift — cleans the header of a message submitted by the
// node's own user before it leaves: what the user's mail program and earlier
// hops wrote about the sender's machine must not reach the recipient.
//
//   - Received: fields (added by the mail program or hops before us): removed;
//   - User-Agent: and X-Mailer: (name the software): removed unless kept;
//   - Message-ID: the host part (often the sender's machine name) becomes
//     the node's onion name, the local part is kept; a random one is added
//     when missing or unreadable;
//   - Date: rewritten in UTC ("+0000") for the same instant (the sender's
//     time zone tells where they are); the submission time when missing or
//     unparseable.
//
// Pure: the onion name, the current time and the random bytes are inputs.
// The header section ends at the first empty line; folded fields
// (continuation lines) go with their field; the body, from that empty line
// on, is copied byte for byte.
//
// Untrusted input: the whole message, from the authenticated user's mail
// program. It is only split into lines and fields; fields other than those
// above are copied as they are.
// RFCs: RFC 5322 §2.2 (header fields, folding), §3.3 (date-time), §3.6.4
// (Message-ID), §3.6.7 (Received), RFC 6409 §8 (submission may change
// the message), RFC 5321 §4.4 (trace fields).

/// Cleans the header of submitted messages for one node.
public struct SubmissionCleaner: Sendable {
    /// The node's onion host name: the new host part of Message-IDs.
    public var hostname: String
    /// Whether User-Agent: and X-Mailer: are kept (default: removed).
    public var keepsMailerFields: Bool

    /// Creates a cleaner for the node `hostname`.
    public init(hostname: String, keepsMailerFields: Bool = false) {
        self.hostname = hostname
        self.keepsMailerFields = keepsMailerFields
    }

    /// The cleaned message.
    ///
    /// - Parameters:
    ///   - message: the message as received (header, empty line, body).
    ///   - unixSeconds: the submission time, for a missing or unreadable Date:.
    ///   - randomBytes: entropy for the local part of a new Message-ID
    ///     (16 bytes are plenty); used only when one is added.
    public func clean(_ message: [UInt8], unixSeconds: Int64, randomBytes: [UInt8]) -> [UInt8] {
        let (fields, bodyStart) = Self.headerFields(message)
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 128)
        var hasMessageID = false
        var hasDate = false
        for field in fields {
            let raw = message[field.range]
            switch field.name {
            case "received":
                continue
            case "user-agent", "x-mailer":
                if keepsMailerFields {
                    out.append(contentsOf: raw)
                }
            case "message-id":
                // RFC 5322 §3.6: at most one; a second one goes.
                if !hasMessageID {
                    hasMessageID = true
                    let local = Self.messageIDLocalPart(Self.value(of: raw))
                    out.append(contentsOf: messageIDField(local: local ?? Base32.encode(randomBytes)))
                }
            case "date":
                if !hasDate {
                    hasDate = true
                    let instant = SubmissionDate.unixSeconds(parsing: Self.value(of: raw)) ?? unixSeconds
                    out.append(contentsOf: Self.dateField(unixSeconds: instant))
                }
            default:
                out.append(contentsOf: raw)
            }
        }
        if (!hasMessageID || !hasDate), let last = out.last, last != 0x0A {
            out.append(contentsOf: [0x0D, 0x0A])  // a header without a final line end
        }
        if !hasDate {
            out.append(contentsOf: Self.dateField(unixSeconds: unixSeconds))
        }
        if !hasMessageID {
            out.append(contentsOf: messageIDField(local: Base32.encode(randomBytes)))
        }
        out.append(contentsOf: message[bodyStart...])
        return out
    }

    // MARK: - Header fields

    /// One field of the header section: its raw bytes (first line and
    /// continuation lines, line ends included) and its name in lower case
    /// ("" for a line that is not a field, which is kept as it is).
    struct Field {
        var range: Range<Int>
        var name: String
    }

    /// The fields of the header section and where the body starts (the
    /// empty line that ends the header, or the end of the message).
    static func headerFields(_ message: [UInt8]) -> (fields: [Field], bodyStart: Int) {
        var fields: [Field] = []
        var start = 0
        while start < message.count {
            let lineFeed = message[start...].firstIndex(of: 0x0A)
            let end = lineFeed.map { $0 + 1 } ?? message.count
            let content = message[start..<(lineFeed ?? message.count)]
            if content.isEmpty || content.elementsEqual([0x0D]) {
                return (fields, start)  // the empty line: the body begins here
            }
            let first = message[start]
            if (first == 0x20 || first == 0x09), !fields.isEmpty {
                fields[fields.count - 1].range = fields[fields.count - 1].range.lowerBound..<end
            } else {
                fields.append(Field(range: start..<end, name: fieldName(content)))
            }
            start = end
        }
        return (fields, message.count)
    }

    /// The lower-cased name of a field's first line, or "" when the line is
    /// not `name ":"` (ftext, RFC 5322 §3.6.8; white space before the colon
    /// is the obsolete syntax of §4.5).
    static func fieldName(_ line: ArraySlice<UInt8>) -> String {
        guard let colon = line.firstIndex(of: 0x3A) else {
            return ""
        }
        var name = line[line.startIndex..<colon]
        while let last = name.last, last == 0x20 || last == 0x09 {
            name = name.dropLast()
        }
        guard !name.isEmpty, name.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            return ""
        }
        return String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// The value of a field (after the colon), unfolded.
    static func value(of raw: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let colon = raw.firstIndex(of: 0x3A) else {
            return raw[raw.endIndex...]
        }
        return ArraySlice(raw[(colon + 1)...].filter { $0 != 0x0D && $0 != 0x0A })
    }

    // MARK: - Message-ID

    /// The local part (id-left) of a `<id-left@id-right>` Message-ID, or nil
    /// when the value holds none that can be kept: printable ASCII without
    /// white space, angle brackets or "@" (RFC 5322 §3.6.4 dot-atom-text and
    /// the printable obsolete forms).
    static func messageIDLocalPart(_ value: ArraySlice<UInt8>) -> String? {
        guard let open = value.firstIndex(of: 0x3C),
              let close = value[open...].firstIndex(of: 0x3E) else {
            return nil
        }
        let inner = value[(open + 1)..<close]
        guard let at = inner.lastIndex(of: 0x40) else {
            return nil
        }
        let local = inner[inner.startIndex..<at]
        guard !local.isEmpty, local.count <= 200,
              local.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3C && $0 != 0x3E && $0 != 0x40 }) else {
            return nil
        }
        return String(decoding: local, as: UTF8.self)
    }

    private func messageIDField(local: String) -> [UInt8] {
        Array(("Message-ID: <" + local + "@" + hostname + ">\r\n").utf8)
    }

    // MARK: - Date

    private static func dateField(unixSeconds: Int64) -> [UInt8] {
        Array(("Date: " + UTCDate(unixSeconds: unixSeconds).rfc5322 + "\r\n").utf8)
    }
}
