// Reply.swift — an SMTP reply (code, optional enhanced status code, text
// lines), its wire rendering, and every reply the server session sends.
//
// Untrusted input: reply text may carry text from elsewhere (a store failure
// message, a policy's reply); control characters in it are replaced on the
// wire so that no text can inject a line of its own.
// RFCs: RFC 5321 §4.2 (reply syntax, multi-line replies), RFC 2034 and
// RFC 3463 (enhanced status codes), RFC 1870 (SIZE), RFC 3030 (CHUNKING),
// RFC 2920 (PIPELINING), RFC 6531 (SMTPUTF8), RFC 6152 (8BITMIME); on the
// submission listener RFC 3207 (STARTTLS), RFC 4954 (AUTH) and RFC 6409.

/// An enhanced mail system status code, `class.subject.detail` (RFC 3463).
public struct EnhancedStatusCode: Equatable, Sendable {
    /// The class: 2 (success), 4 (persistent transient failure) or 5
    /// (permanent failure).
    public var statusClass: UInt8
    /// The subject, e.g. 5 in `5.5.1` (protocol status).
    public var subject: UInt16
    /// The detail, e.g. 1 in `5.5.1` (invalid command).
    public var detail: UInt16

    /// Creates the code `statusClass.subject.detail`.
    public init(_ statusClass: UInt8, _ subject: UInt16, _ detail: UInt16) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// The code as written in a reply, e.g. `5.5.1`.
    public var text: String {
        "\(statusClass).\(subject).\(detail)"
    }
}

/// An SMTP reply: a three-digit code, an optional enhanced status code and
/// one or more lines of text.
public struct Reply: Equatable, Sendable {
    /// The three-digit reply code (RFC 5321 §4.2).
    public var code: UInt16
    /// The enhanced status code put before the text of every line (RFC 2034).
    public var enhanced: EnhancedStatusCode?
    /// The text lines, without code or line end. An empty array is rendered
    /// as one line without text.
    public var lines: [String]

    /// Creates a reply.
    public init(code: UInt16, enhanced: EnhancedStatusCode?, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    /// Creates a one-line reply with an enhanced status code.
    public init(_ code: UInt16, _ enhanced: EnhancedStatusCode, _ text: String) {
        self.init(code: code, enhanced: enhanced, lines: [text])
    }

    /// Whether the reply is a permanent negative completion (5yz).
    public var isPermanentFailure: Bool {
        code >= 500 && code <= 599
    }

    /// The reply as sent: `250-first\r\n250 last\r\n`, with the enhanced code
    /// (when present) before the text of every line (RFC 2034 §4). A last line
    /// without text is just the code (RFC 5321 §4.2: `Reply-code [ SP
    /// textstring ] CRLF`).
    ///
    /// Control characters (CR, LF, NUL and others) inside the text are sent
    /// as spaces. A 334 reply always has the space after its code, even
    /// without text: RFC 4954 §4 `continue-req = "334" SP [base64] CRLF`.
    public func wireBytes() -> [UInt8] {
        let texts = lines.isEmpty ? [""] : lines
        var bytes: [UInt8] = []
        let codeDigits = Array("\(code)".utf8)
        let enhancedText: [UInt8]? = enhanced.map { Array($0.text.utf8) }
        for index in texts.indices {
            let isLast = index == texts.count - 1
            var body: [UInt8] = []
            if let enhancedText {
                body.append(contentsOf: enhancedText)
            }
            let text = texts[index]
            if !text.isEmpty {
                if !body.isEmpty {
                    body.append(0x20)
                }
                for byte in text.utf8 {
                    body.append(byte < 0x20 || byte == 0x7F ? 0x20 : byte)
                }
            }
            bytes.append(contentsOf: codeDigits)
            if !isLast {
                bytes.append(0x2D)  // "-": more lines follow
            } else if !body.isEmpty || code == 334 {
                bytes.append(0x20)
            }
            bytes.append(contentsOf: body)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        return bytes
    }
}

// MARK: - The replies of the server session

extension Reply {
    // Greeting and EHLO/HELO carry no enhanced code (RFC 2034 §4: codes are
    // prefixed only after EHLO, and not to the EHLO reply itself).

    /// 220: the greeting, naming the host and nothing about the software.
    public static func greeting(hostname: String) -> Reply {
        Reply(code: 220, enhanced: nil, lines: ["\(hostname) ESMTP"])
    }

    /// 250: the EHLO reply, listing the service extensions (RFC 5321 §4.1.1.1).
    public static func extendedHello(hostname: String, limits: Limits,
                                     proofOfWork: [PowRequirement]? = nil) -> Reply {
        var reply = Reply(code: 250, enhanced: nil, lines: [
            hostname,
            "PIPELINING",                     // RFC 2920
            "SIZE \(limits.maxMessageSize)",  // RFC 1870
            "8BITMIME",                       // RFC 6152
            "ENHANCEDSTATUSCODES",            // RFC 2034
            "SMTPUTF8",                       // RFC 6531
            "CHUNKING",                       // RFC 3030
        ])
        if let proofOfWork {
            reply.lines.append(PowExtension.announcement(proofOfWork))  // docs/spec.md §5.5
        }
        return reply
    }

    /// 250: the HELO reply (RFC 5321 §4.1.1.1).
    public static func hello(hostname: String) -> Reply {
        Reply(code: 250, enhanced: nil, lines: [hostname])
    }

    /// 250 2.0.0: generic success (RSET, NOOP).
    public static let ok = Reply(250, EnhancedStatusCode(2, 0, 0), "Ok")

    /// 250 2.1.0: the reverse path is accepted.
    public static let senderOK = Reply(250, EnhancedStatusCode(2, 1, 0), "Ok")

    /// 250 2.1.5: the recipient is accepted.
    public static let recipientOK = Reply(250, EnhancedStatusCode(2, 1, 5), "Ok")

    /// 354: go ahead with the message text (RFC 5321 §4.1.1.4). 3xx replies
    /// have no enhanced code (RFC 3463 defines classes 2, 4 and 5 only).
    public static let startMailInput = Reply(
        code: 354, enhanced: nil, lines: ["End data with <CR><LF>.<CR><LF>"])

    /// 250 2.0.0: a BDAT chunk was received (RFC 3030 §2).
    public static func chunkReceived(octets: UInt64) -> Reply {
        Reply(250, EnhancedStatusCode(2, 0, 0), "\(octets) octets received")
    }

    /// 250 2.0.0: the message was queued under this identifier.
    public static func queued(queueID: String) -> Reply {
        Reply(250, EnhancedStatusCode(2, 0, 0), "Ok: queued as \(queueID)")
    }

    /// 451 4.3.0: the message could not be stored now; the client retries.
    public static func storeTemporaryFailure(_ text: String) -> Reply {
        Reply(451, EnhancedStatusCode(4, 3, 0), text)
    }

    /// 554 5.3.0: the message cannot be stored.
    public static func storePermanentFailure(_ text: String) -> Reply {
        Reply(554, EnhancedStatusCode(5, 3, 0), text)
    }

    /// 221 2.0.0: the answer to QUIT.
    public static func closing(hostname: String) -> Reply {
        Reply(221, EnhancedStatusCode(2, 0, 0), "\(hostname) closing connection")
    }

    /// 252 2.5.0: VRFY never confirms a user (RFC 5321 §3.5.3, §7.3).
    public static let cannotVerify = Reply(
        252, EnhancedStatusCode(2, 5, 0),
        "Cannot VRFY user, but will accept message for local mailboxes")

    /// 214 2.0.0: the HELP text, listing the implemented verbs.
    public static func help(verbs: [String]) -> Reply {
        Reply(code: 214, enhanced: EnhancedStatusCode(2, 0, 0), lines: [
            "Commands: " + verbs.joined(separator: " "),
            "End of HELP info",
        ])
    }

    // MARK: Sequence errors (RFC 5321 §4.1.4, 503 5.5.1)

    /// 503 5.5.1: EHLO or HELO must come first.
    public static let needHello = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: send HELO/EHLO first")

    /// 503 5.5.1: BDAT needs an EHLO session (CHUNKING is an ESMTP extension).
    public static let needExtendedHello = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: BDAT requires EHLO")

    /// 503 5.5.1: MAIL inside an open transaction.
    public static let nestedMail = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: nested MAIL command")

    /// 503 5.5.1: RCPT, DATA or BDAT without MAIL.
    public static let needMail = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: need MAIL command")

    /// 503 5.5.1: DATA or BDAT without an accepted recipient.
    public static let needRecipient = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: need RCPT command")

    /// 503 5.5.1: DATA after BDAT in one transaction (RFC 3030 §2).
    public static let dataAfterChunks = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: DATA after BDAT")

    // MARK: Command errors

    /// 500 5.5.1: the verb is unknown.
    public static let unknownCommand = Reply(500, EnhancedStatusCode(5, 5, 1), "Error: command not recognized")

    /// 502 5.5.1: the verb is known but not implemented here.
    public static let notImplemented = Reply(502, EnhancedStatusCode(5, 5, 1), "Error: command not implemented")

    /// 500 5.5.2: a command line ended in LF without CR (RFC 5321 §2.3.8).
    public static let bareLineFeedInCommand = Reply(
        500, EnhancedStatusCode(5, 5, 2), "Bare LF in command (RFC 5321 2.3.8)")

    /// 500 5.5.2: a command line longer than the limit (RFC 5321 §4.5.3.1.4).
    public static func commandLineTooLong(limit: Int) -> Reply {
        Reply(500, EnhancedStatusCode(5, 5, 2), "Line too long (command line limit \(limit) octets)")
    }

    /// 500 5.5.2: non-ASCII octets in a command outside an SMTPUTF8 path.
    public static let nonASCIICommand = Reply(
        500, EnhancedStatusCode(5, 5, 2), "Non-ASCII characters in command")

    /// 500 5.5.2: control characters (bare CR, NUL, ...) in a command.
    public static let invalidCharacters = Reply(
        500, EnhancedStatusCode(5, 5, 2), "Invalid characters in command")

    /// 501 5.5.2: the arguments do not follow the command's syntax.
    public static let syntaxError = Reply(501, EnhancedStatusCode(5, 5, 2), "Syntax error in arguments")

    /// 501 5.5.2: the EHLO/HELO argument is not a domain or address literal.
    public static let invalidHelloDomain = Reply(
        501, EnhancedStatusCode(5, 5, 2), "Invalid domain name or address literal")

    /// 501 5.5.4: a command that needs an argument came without one.
    public static let missingArgument = Reply(501, EnhancedStatusCode(5, 5, 4), "Error: argument required")

    /// 501 5.5.4: a command that takes no argument came with one.
    public static let unexpectedArgument = Reply(501, EnhancedStatusCode(5, 5, 4), "Error: no argument allowed")

    /// 501 5.5.4: a BDAT chunk size that is not a number (RFC 3030 §2).
    public static let invalidChunkSize = Reply(
        501, EnhancedStatusCode(5, 5, 4), "Syntax: BDAT chunk-size [LAST]")

    /// 501 5.5.4: a malformed, repeated or badly valued ESMTP parameter.
    public static let invalidParameter = Reply(
        501, EnhancedStatusCode(5, 5, 4), "Invalid parameter or parameter value")

    /// 555 5.5.4: an ESMTP parameter that is not supported (RFC 5321 §4.1.1.11).
    public static let unsupportedParameter = Reply(
        555, EnhancedStatusCode(5, 5, 4), "Unsupported parameter")

    /// 555 5.5.4: ESMTP parameters after HELO (they need EHLO, RFC 5321 §4.1.1.1).
    public static let parametersNeedExtendedHello = Reply(
        555, EnhancedStatusCode(5, 5, 4), "Parameters require EHLO")

    // MARK: Address errors

    /// 501 5.1.7 (reverse path) or 5.1.3 (forward path): malformed path.
    public static func badAddressSyntax(isRecipient: Bool) -> Reply {
        isRecipient
            ? Reply(501, EnhancedStatusCode(5, 1, 3), "Bad recipient address syntax")
            : Reply(501, EnhancedStatusCode(5, 1, 7), "Bad sender address syntax")
    }

    /// 501 5.1.7 / 5.1.3: the null path `<>` in RCPT.
    public static let nullRecipient = Reply(
        501, EnhancedStatusCode(5, 1, 3), "Null recipient address not allowed")

    /// 501 5.1.7 / 5.1.3: a local part over the limit (RFC 5321 §4.5.3.1.1).
    public static func localPartTooLong(limit: Int, isRecipient: Bool) -> Reply {
        Reply(501, addressCode(isRecipient), "Local part longer than \(limit) octets")
    }

    /// 501 5.1.7 / 5.1.3: a domain over the limit (RFC 5321 §4.5.3.1.2).
    public static func domainTooLong(limit: Int, isRecipient: Bool) -> Reply {
        Reply(501, addressCode(isRecipient), "Domain longer than \(limit) octets")
    }

    /// 501 5.1.7 / 5.1.3: a path over the limit (RFC 5321 §4.5.3.1.3).
    public static func pathTooLong(limit: Int, isRecipient: Bool) -> Reply {
        Reply(501, addressCode(isRecipient), "Path longer than \(limit) octets")
    }

    /// 553 5.6.7: a non-ASCII address without SMTPUTF8 (RFC 6531 §3.5).
    public static let nonASCIIAddress = Reply(
        553, EnhancedStatusCode(5, 6, 7), "Non-ASCII address requires SMTPUTF8")

    /// 550 5.7.1: the recipient is not delivered here (or has a source route).
    public static let relayDenied = Reply(550, EnhancedStatusCode(5, 7, 1), "Relaying denied")

    /// 550 5.1.1: no such mailbox here. For recipient policies.
    public static let mailboxUnavailable = Reply(550, EnhancedStatusCode(5, 1, 1), "Mailbox unavailable")

    /// 452 4.5.3: the transaction has its maximum of recipients
    /// (RFC 5321 §4.5.3.1.10). Not a protocol error.
    public static let tooManyRecipients = Reply(452, EnhancedStatusCode(4, 5, 3), "Too many recipients")

    // MARK: Message errors

    /// 552 5.3.4: the declared or actual size is over the limit (RFC 1870).
    public static let messageTooLarge = Reply(
        552, EnhancedStatusCode(5, 3, 4), "Message size exceeds fixed maximum message size")

    /// 554 5.6.0: the DATA text has a line ending in LF without CR, a defence
    /// against SMTP smuggling (RFC 5321 §2.3.8).
    public static let bareLineFeedInMessage = Reply(
        554, EnhancedStatusCode(5, 6, 0), "Message contains a bare LF (RFC 5321 2.3.8)")

    /// 554 5.6.0: the DATA text has a CR not followed by LF (RFC 5321 §2.3.8).
    public static let bareCarriageReturnInMessage = Reply(
        554, EnhancedStatusCode(5, 6, 0), "Message contains a bare CR (RFC 5321 2.3.8)")

    /// 554 5.6.0: the DATA text has a line over the limit (RFC 5321 §4.5.3.1.6).
    public static func textLineTooLong(limit: Int) -> Reply {
        Reply(554, EnhancedStatusCode(5, 6, 0),
              "Message has a line longer than \(limit) octets (RFC 5321 4.5.3.1.6)")
    }

    // MARK: Closing the session

    /// 421 4.4.2: no input within the read timeout (RFC 5321 §4.5.3.2).
    public static func timeout(hostname: String) -> Reply {
        Reply(421, EnhancedStatusCode(4, 4, 2), "\(hostname) Timeout, closing connection")
    }

    /// 421 4.7.0: too many error replies in this session.
    public static func tooManyErrors(hostname: String) -> Reply {
        Reply(421, EnhancedStatusCode(4, 7, 0), "\(hostname) Too many errors, closing connection")
    }

    /// 421 4.7.0: too many commands sent while a message was being stored.
    public static func tooManyHeldCommands(hostname: String) -> Reply {
        Reply(421, EnhancedStatusCode(4, 7, 0), "\(hostname) Too many pipelined commands, closing connection")
    }

    // MARK: The submission listener (RFC 6409)

    /// 250: the EHLO reply of the submission listener: the relay's extensions,
    /// then `STARTTLS` (RFC 3207) while TLS is available and not yet on, and
    /// `AUTH PLAIN` (RFC 4954) where authentication is allowed.
    public static func submissionExtendedHello(
        hostname: String, limits: Limits, offersStartTLS: Bool, offersAuthentication: Bool
    ) -> Reply {
        var reply = extendedHello(hostname: hostname, limits: limits)
        if offersStartTLS {
            reply.lines.append("STARTTLS")
        }
        if offersAuthentication {
            reply.lines.append("AUTH PLAIN")
        }
        return reply
    }

    /// 220 2.0.0: the answer to STARTTLS; the TLS handshake follows
    /// (RFC 3207 §4).
    public static let readyToStartTLS = Reply(220, EnhancedStatusCode(2, 0, 0), "Ready to start TLS")

    /// 503 5.5.1: STARTTLS under TLS (RFC 3207 §4.2: not offered then).
    public static let tlsAlreadyActive = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: TLS already active")

    /// 503 5.5.1: STARTTLS or AUTH inside a mail transaction (RFC 4954 §4:
    /// "An AUTH command issued during a mail transaction MUST be rejected
    /// with a 503 reply").
    public static let transactionInProgress = Reply(
        503, EnhancedStatusCode(5, 5, 1), "Error: MAIL transaction in progress")

    /// 503 5.5.1: a service extension's verb after HELO (it needs EHLO).
    public static func extendedHelloRequired(verb: String) -> Reply {
        Reply(503, EnhancedStatusCode(5, 5, 1), "Error: \(verb) requires EHLO")
    }

    /// 334: send the SASL response (RFC 4954 §4); PLAIN sends an empty
    /// challenge.
    public static let authenticationChallenge = Reply(code: 334, enhanced: nil, lines: [])

    /// 235 2.7.0: authenticated (RFC 4954 §6).
    public static let authenticationSucceeded = Reply(235, EnhancedStatusCode(2, 7, 0), "Authentication successful")

    /// 535 5.7.8: wrong user name or password, or an authorization identity
    /// that is not the user (RFC 4954 §6). Counts as a protocol error.
    public static let authenticationFailed = Reply(
        535, EnhancedStatusCode(5, 7, 8), "Authentication credentials invalid")

    /// 503 5.5.1: AUTH after a successful AUTH (RFC 4954 §4).
    public static let alreadyAuthenticated = Reply(503, EnhancedStatusCode(5, 5, 1), "Error: already authenticated")

    /// 538 5.7.11: AUTH PLAIN in cleartext where TLS is required (RFC 4954 §6).
    public static let encryptionRequired = Reply(
        538, EnhancedStatusCode(5, 7, 11), "Encryption required for requested authentication mechanism")

    /// 504 5.5.4: a SASL mechanism other than PLAIN (RFC 4954 §4).
    public static let unsupportedMechanism = Reply(
        504, EnhancedStatusCode(5, 5, 4), "Unrecognized authentication type")

    /// 501 5.0.0: the client answered the 334 with "*" (RFC 4954 §4).
    public static let authenticationCancelled = Reply(501, EnhancedStatusCode(5, 0, 0), "Authentication cancelled")

    /// 501 5.5.2: the SASL response is not base64 (RFC 4954 §4).
    public static let invalidBase64 = Reply(501, EnhancedStatusCode(5, 5, 2), "Invalid base64 data")

    /// 501 5.5.2: the decoded response is not a SASL PLAIN message
    /// (RFC 4616 §2).
    public static let invalidPlainMessage = Reply(
        501, EnhancedStatusCode(5, 5, 2), "Invalid SASL PLAIN message")

    /// 500 5.5.6: an authentication response line over the limit (RFC 4954 §4).
    public static func authenticationLineTooLong(limit: Int) -> Reply {
        Reply(500, EnhancedStatusCode(5, 5, 6), "Authentication exchange line is too long (limit \(limit) octets)")
    }

    /// 530 5.7.0: MAIL before AUTH where authentication is required
    /// (RFC 4954 §6).
    public static let authenticationRequired = Reply(530, EnhancedStatusCode(5, 7, 0), "Authentication required")

    /// 550 5.7.1: a legacy (non-onion) recipient, and no smarthost to send
    /// it through.
    public static let legacyRecipientNeedsSmarthost = Reply(
        550, EnhancedStatusCode(5, 7, 1), "legacy (non-onion) recipients need a smarthost, none is configured")

    /// 550 5.7.1: a recipient of the other kind (SMTorP vs legacy) than those
    /// already accepted for this message.
    public static let mixedRecipients = Reply(
        550, EnhancedStatusCode(5, 7, 1),
        "Mixing SMTorP and legacy recipients in one message is refused (legacy recipients could not reply to all)")

    /// 553 5.1.3: a recipient that is not a valid address (e.g. an onion
    /// name with a bad checksum, a v2 name), with the reason.
    public static func invalidRecipientAddress(_ reason: String) -> Reply {
        Reply(553, EnhancedStatusCode(5, 1, 3), "Invalid recipient address: " + reason)
    }

    private static func addressCode(_ isRecipient: Bool) -> EnhancedStatusCode {
        isRecipient ? EnhancedStatusCode(5, 1, 3) : EnhancedStatusCode(5, 1, 7)
    }
}
