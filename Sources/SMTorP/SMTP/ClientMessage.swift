// ClientMessage.swift — one message the SMTP client session is to send: its
// envelope and text, and the form it takes on the wire (paths rendered and
// checked, line ends made CRLF, size and 8-bit content measured).
//
// Untrusted input: none from the network. The envelope and text come from
// the node's own queue, which holds what other peers sent, so the paths are
// rendered and parsed back before they go into a command line: a mailbox
// that could not have come out of the path parser (a CR or LF in a local
// part, an over-long path) never reaches the wire.
// RFCs: RFC 5321 §2.3.8 (CR and LF only as CRLF), §4.1.2 (Path),
// §4.5.3.1 (path lengths), RFC 1870 (message size), RFC 6152 (8-bit
// content), RFC 6531 (UTF-8 addresses).

/// A message for the client session to send: the envelope and the text.
public struct ClientMessage: Equatable, Sendable {
    /// The owner's name for the message (e.g. its queue file), copied into
    /// its `DeliveryReport`.
    public var identifier: String
    /// The reverse path; nil for the null reverse path `<>` (a bounce).
    public var reversePath: Mailbox?
    /// The recipients, in the order they are sent.
    public var recipients: [Mailbox]
    /// The message text (RFC 5322 header and body) with CRLF line ends, not
    /// dot-stuffed.
    ///
    /// A bare CR or LF is sent as CRLF (RFC 5321 §2.3.8: they are sent only
    /// as line ends), and a CRLF is added when the text does not end with
    /// one; the size announced and the 8-bit check are on that form.
    public var content: [UInt8]
    /// Whether the message needs SMTPUTF8 (RFC 6531): UTF-8 in its header
    /// fields. A non-ASCII address needs it too; the session adds that case
    /// itself.
    public var requiresSMTPUTF8: Bool
    /// The proof-of-work stamp for each recipient (docs/spec.md §5.4), in
    /// the order of `recipients`; empty or nil entries send none. A stamp is
    /// sent as `POW=<stamp>` only to a server that offers POW, and only
    /// when it is a valid esmtp-value (a stamp that is not is never sent).
    public var stamps: [String?]

    /// Creates a message.
    public init(
        identifier: String, reversePath: Mailbox?, recipients: [Mailbox],
        content: [UInt8], requiresSMTPUTF8: Bool = false, stamps: [String?] = []
    ) {
        self.identifier = identifier
        self.reversePath = reversePath
        self.recipients = recipients
        self.content = content
        self.requiresSMTPUTF8 = requiresSMTPUTF8
        self.stamps = stamps
    }

    /// The message as the session sends it.
    struct Prepared: Equatable, Sendable {
        /// The owner's name for the message.
        let identifier: String
        /// The recipients, in the order they are sent.
        let recipients: [Mailbox]
        /// `<reverse-path>`, or nil when the mailbox cannot be written as a
        /// path (RFC 5321 §4.1.2, §4.5.3.1).
        let reversePath: [UInt8]?
        /// `<forward-path>` of each recipient, or nil when it cannot be
        /// written as one.
        let forwardPaths: [[UInt8]?]
        /// ` POW=<stamp>` for each recipient that has a well-formed stamp,
        /// else nil.
        let stampParameters: [[UInt8]?]
        /// The text with every line end CRLF and a CRLF at the end (an empty
        /// text stays empty).
        let content: [UInt8]
        /// Whether the text has octets above 127 (RFC 6152).
        let hasEightBitContent: Bool
        /// Whether SMTPUTF8 is needed: asked for, or a non-ASCII address.
        let requiresSMTPUTF8: Bool

        /// The size announced with SIZE= (RFC 1870): the text with CRLF line
        /// ends, before dot-stuffing.
        var size: UInt64 {
            UInt64(content.count)
        }

        /// The text as sent after DATA's 354: every line that starts with "."
        /// gets another "." before it (RFC 5321 §4.5.2), then the end of data
        /// indication ".", CRLF. Every line end of `content` is a CRLF, so no
        /// other sequence in it can end the data early (SMTP smuggling).
        func dotStuffed() -> [UInt8] {
            var result: [UInt8] = []
            result.reserveCapacity(content.count + content.count / 64 + 3)
            var isAtLineStart = true
            for byte in content {
                if isAtLineStart && byte == 0x2E {
                    result.append(0x2E)
                }
                result.append(byte)
                isAtLineStart = byte == 0x0A
            }
            result.append(contentsOf: [0x2E, 0x0D, 0x0A])
            return result
        }
    }

    /// The message as the session sends it.
    func prepared() -> Prepared {
        let reverse: [UInt8]?
        if let reversePath {
            reverse = ClientMessage.path(for: reversePath, isRecipient: false)
        } else {
            reverse = [0x3C, 0x3E]  // "<>"
        }
        let content = ClientMessage.normalized(self.content)
        return Prepared(
            identifier: identifier,
            recipients: recipients,
            reversePath: reverse,
            forwardPaths: recipients.map { ClientMessage.path(for: $0, isRecipient: true) },
            stampParameters: recipients.indices.map { index in
                guard index < stamps.count, let stamp = stamps[index] else { return nil }
                return ClientMessage.stampParameter(stamp)
            },
            content: content,
            hasEightBitContent: content.contains { $0 >= 0x80 },
            requiresSMTPUTF8: requiresSMTPUTF8 || !(reversePath?.isASCII ?? true)
                || recipients.contains { !$0.isASCII })
    }

    /// `<mailbox>`, when it parses back to the same mailbox within the
    /// RFC 5321 length limits; nil otherwise.
    private static func path(for mailbox: Mailbox, isRecipient: Bool) -> [UInt8]? {
        var bytes: [UInt8] = [0x3C]
        bytes.append(contentsOf: mailbox.text.utf8)
        bytes.append(0x3E)
        // The reverse path may not be the domain-less <Postmaster>
        // (allowsNull: true disallows it); a forward path may.
        guard let parsed = try? Path.parse(bytes, limits: Limits(), allowsNull: !isRecipient),
              let parsedMailbox = parsed.mailbox, parsedMailbox.isSameAddress(as: mailbox) else {
            return nil
        }
        return bytes
    }

    /// ` POW=<stamp>`, when the stamp is an esmtp-value (RFC 5321 §4.1.2:
    /// printable ASCII but "=") no longer than a stamp may be.
    private static func stampParameter(_ stamp: String) -> [UInt8]? {
        let bytes = Array(stamp.utf8)
        guard !bytes.isEmpty, bytes.count <= ProofOfWorkLimits().maximumStampLength,
              bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3D }) else { return nil }
        return Array((" " + PowExtension.keyword + "=").utf8) + bytes
    }

    /// The text with every bare CR, bare LF and CRLF written as CRLF, ending
    /// in CRLF unless empty.
    private static func normalized(_ text: [UInt8]) -> [UInt8] {
        var isClean = true
        var index = 0
        while index < text.count {
            if text[index] == 0x0D {
                guard index + 1 < text.count, text[index + 1] == 0x0A else {
                    isClean = false
                    break
                }
                index += 2
            } else if text[index] == 0x0A {
                isClean = false
                break
            } else {
                index += 1
            }
        }
        let endsWithLineEnd = text.count >= 2 && text[text.count - 2] == 0x0D && text[text.count - 1] == 0x0A
        if isClean && (text.isEmpty || endsWithLineEnd) {
            return text  // the usual case: no copy
        }
        var result: [UInt8] = []
        result.reserveCapacity(text.count + 2)
        index = 0
        while index < text.count {
            let byte = text[index]
            if byte == 0x0D || byte == 0x0A {
                result.append(0x0D)
                result.append(0x0A)
                if byte == 0x0D, index + 1 < text.count, text[index + 1] == 0x0A {
                    index += 1
                }
            } else {
                result.append(byte)
            }
            index += 1
        }
        if !(result.count >= 2 && result[result.count - 2] == 0x0D && result[result.count - 1] == 0x0A) {
            result.append(0x0D)
            result.append(0x0A)
        }
        return result
    }
}
