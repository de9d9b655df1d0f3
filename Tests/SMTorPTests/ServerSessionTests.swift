// ServerSessionTests.swift — runs the ESMTP server session in memory against
// a simulated core (line/byte framing as the C core does it) and checks the
// exact replies: limits, relay refusals, pipelining, DATA and BDAT, bare LF
// (SMTP smuggling), SMTPUTF8, store outcomes.

import XCTest
@testable import SMTorP

/// Accepts alice and bob at example.onion, alias.test and the proof-of-work
/// tests' onion; 550 5.7.1 for other
/// domains, 550 5.1.1 for other local parts.
struct TestPolicy: RecipientPolicy {
    func decide(_ recipient: Mailbox) -> RecipientDecision {
        guard ["example.onion", "alias.test", ProofOfWorkStampTests.onion].contains(recipient.domain.lowercased()) else {
            return .reject(.relayDenied)
        }
        guard ["alice", "bob", "postmaster"].contains(recipient.localPart.lowercased()) else {
            return .reject(.mailboxUnavailable)
        }
        return .accept
    }
}

/// Simulates the C core in front of a session: the client's bytes are framed
/// as lines (up to the current maximum, over-long lines discarded through the
/// next LF) or as byte chunks, as the session's effects ask.
struct Wire {
    var session: ServerSession<TestPolicy>
    var framing: CoreFraming
    /// Every effect so far, in order.
    var effects: [ServerEffect] = []
    /// When set, every `.store` effect is answered at once with this result.
    var autoStore: StoreResult?
    /// Answers `.checkStamp` effects (the adapter's part); nil leaves them
    /// unanswered.
    var stampChecker: ((String?, Mailbox) -> Reply?)?

    static let hostname = "node.example.onion"

    init(limits: Limits = Limits(), tlsActive: Bool = true, autoStore: StoreResult? = .stored(queueID: "Q1"),
         proofOfWork: [PowRequirement]? = nil, hostname: String = Wire.hostname) {
        session = ServerSession(
            configuration: ServerConfiguration(hostname: hostname, limits: limits, tlsActive: tlsActive,
                                               proofOfWork: proofOfWork),
            policy: TestPolicy())
        framing = CoreFraming(maxLine: limits.commandLineLength)
        self.autoStore = autoStore
    }

    /// A wire that has received `.ready`.
    static func connected(
        limits: Limits = Limits(), tlsActive: Bool = true, autoStore: StoreResult? = .stored(queueID: "Q1")
    ) -> Wire {
        var wire = Wire(limits: limits, tlsActive: tlsActive, autoStore: autoStore)
        wire.input(.ready)
        return wire
    }

    mutating func input(_ input: ServerInput) {
        apply(session.receive(input))
        pump()
    }

    /// Sends one line with CRLF.
    mutating func send(_ line: String) {
        sendBytes(Array(line.utf8) + [0x0D, 0x0A])
    }

    /// Sends lines, each with CRLF, as one write (pipelining).
    mutating func send(_ lines: [String]) {
        sendBytes(lines.flatMap { Array($0.utf8) + [0x0D, 0x0A] })
    }

    mutating func sendBytes(_ bytes: [UInt8]) {
        framing.buffer.append(contentsOf: bytes)
        pump()
    }

    private mutating func apply(_ new: [ServerEffect]) {
        for effect in new {
            effects.append(effect)
            switch effect {
            case .expectLines(let maxLength):
                framing.mode = .lines(maxLength)
            case .expectBytes(let count):
                framing.mode = .bytes(count)
            case .store:
                if let autoStore {
                    apply(session.receive(.stored(autoStore)))
                }
            case .checkStamp(let stamp, let recipient):
                if let stampChecker {
                    apply(session.receive(.stampChecked(stampChecker(stamp, recipient))))
                }
            case .send, .setReadTimeout, .close:
                break
            }
        }
    }

    private mutating func pump() {
        while !session.isClosed, let input = framing.next() {
            apply(session.receive(input))
        }
    }

    var replies: [Reply] {
        effects.compactMap { effect in
            if case .send(let reply) = effect { return reply }
            return nil
        }
    }

    /// "code enhanced" of every reply, e.g. "250 2.1.0", or "220" without one.
    var codes: [String] {
        replies.map { reply in
            reply.enhanced.map { "\(reply.code) \($0.text)" } ?? "\(reply.code)"
        }
    }

    var stores: [(envelope: Envelope, message: [UInt8])] {
        effects.compactMap { effect in
            if case .store(let envelope, let message) = effect { return (envelope, message) }
            return nil
        }
    }

    /// The replies' wire bytes.
    var transcript: [UInt8] {
        replies.flatMap { $0.wireBytes() }
    }

    /// Forgets what was recorded so far.
    mutating func clear() {
        effects.removeAll()
    }
}

/// Accepts every recipient (for the default recipient limit).
struct AcceptAllPolicy: RecipientPolicy {
    func decide(_ recipient: Mailbox) -> RecipientDecision {
        .accept
    }
}

final class ServerSessionTests: XCTestCase {
    static let hello = ["EHLO client.example.onion", "MAIL FROM:<carol@client.example.onion>",
                        "RCPT TO:<alice@example.onion>"]

    /// Runs `lines` (one write each) after the greeting and returns the codes
    /// of the replies to them.
    func codes(_ lines: [String], limits: Limits = Limits(), tlsActive: Bool = true,
               file: StaticString = #filePath, line: UInt = #line) -> (codes: [String], wire: Wire) {
        var wire = Wire.connected(limits: limits, tlsActive: tlsActive)
        wire.clear()
        for text in lines {
            wire.send(text)
        }
        return (wire.codes, wire)
    }

    // MARK: Greeting and EHLO

    func testGreetingNamesOnlyTheHost() {
        var session = ServerSession(
            configuration: ServerConfiguration(hostname: "h.onion"), policy: TestPolicy())
        XCTAssertEqual(session.receive(.line(Array("EHLO x\r".utf8))), [], "input before .ready is ignored")
        let effects = session.receive(.ready)
        XCTAssertEqual(effects, [
            .send(Reply(code: 220, enhanced: nil, lines: ["h.onion ESMTP"])),
            .expectLines(maxLength: 512),
            .setReadTimeout(milliseconds: 300_000),
        ])
        XCTAssertEqual(Reply.greeting(hostname: "h.onion").wireBytes(), Array("220 h.onion ESMTP\r\n".utf8))
        XCTAssertEqual(session.receive(.ready), [], "a second .ready is ignored")
    }

    func testEHLOAdvertisesExactlyTheExtensions() {
        let (_, wire) = codes(["EHLO client.example.onion"])
        XCTAssertEqual(String(decoding: wire.transcript, as: UTF8.self),
                       "250-node.example.onion\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
                       + "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n")
    }

    func testCommandSequenceAndSyntaxReplies() {
        let cases: [(name: String, lines: [String], expected: [String])] = [
            ("MAIL before EHLO", ["MAIL FROM:<a@b.example>"], ["503 5.5.1"]),
            ("RCPT before MAIL", ["EHLO c.example", "RCPT TO:<alice@example.onion>"], ["250", "503 5.5.1"]),
            ("nested MAIL", ["EHLO c.example", "MAIL FROM:<a@b.example>", "MAIL FROM:<a@b.example>"],
             ["250", "250 2.1.0", "503 5.5.1"]),
            ("DATA without RCPT", ["EHLO c.example", "MAIL FROM:<a@b.example>", "DATA"],
             ["250", "250 2.1.0", "503 5.5.1"]),
            ("DATA before EHLO", ["DATA"], ["503 5.5.1"]),
            ("EHLO without argument", ["EHLO"], ["501 5.5.4"]),
            ("HELO without argument", ["HELO  "], ["501 5.5.4"]),
            ("EHLO bad domain", ["EHLO -bad-.example"], ["501 5.5.2"]),
            ("EHLO address literal", ["EHLO [192.0.2.1]", "EHLO [IPv6:2001:db8::1]"], ["250", "250"]),
            ("unknown verb", ["FOO bar"], ["500 5.5.1"]),
            ("empty line", [""], ["500 5.5.1"]),
            ("unimplemented verbs", ["EXPN x", "STARTTLS", "AUTH PLAIN", "TURN", "ETRN x"],
             ["502 5.5.1", "502 5.5.1", "502 5.5.1", "502 5.5.1", "502 5.5.1"]),
            ("verbs are case-insensitive", ["ehlo c.example", "mail from:<a@b.example>", "rSeT", "noop"],
             ["250", "250 2.1.0", "250 2.0.0", "250 2.0.0"]),
            ("RSET/NOOP/VRFY/HELP before EHLO", ["RSET", "NOOP hello", "VRFY alice", "HELP"],
             ["250 2.0.0", "250 2.0.0", "252 2.5.0", "214 2.0.0"]),
            ("VRFY without argument", ["VRFY"], ["501 5.5.4"]),
            ("DATA with argument", ["EHLO c.example", "MAIL FROM:<a@b.example>",
                                    "RCPT TO:<alice@example.onion>", "DATA now"],
             ["250", "250 2.1.0", "250 2.1.5", "501 5.5.4"]),
            ("MAIL without FROM:", ["EHLO c.example", "MAIL TO:<a@b.example>"], ["250", "501 5.5.2"]),
            ("MAIL path syntax", ["EHLO c.example", "MAIL FROM:a@b.example", "MAIL FROM:<a@@b>",
                                  "MAIL FROM:<a@b.example>x", "MAIL FROM:<.a@b.example>"],
             ["250", "501 5.1.7", "501 5.1.7", "501 5.1.7", "501 5.1.7"]),
            ("RCPT path syntax and null path", ["EHLO c.example", "MAIL FROM:<>",
                                                "RCPT TO:<alice@-x.example>", "RCPT TO:<>"],
             ["250", "250 2.1.0", "501 5.1.3", "501 5.1.3"]),
            ("space before the path", ["EHLO c.example", "MAIL FROM: <a@b.example>",
                                       "RCPT TO: <alice@example.onion>"],
             ["250", "250 2.1.0", "250 2.1.5"]),
            ("MAIL parameters", ["EHLO c.example", "MAIL FROM:<a@b.example> FOO=1",
                                 "MAIL FROM:<a@b.example> BODY=BINARYMIME",
                                 "MAIL FROM:<a@b.example> SIZE=abc",
                                 "MAIL FROM:<a@b.example> SIZE=1 SIZE=2",
                                 "MAIL FROM:<a@b.example> SMTPUTF8=yes",
                                 "MAIL FROM:<a@b.example> size=10 body=8bitmime smtputf8"],
             ["250", "555 5.5.4", "501 5.5.4", "501 5.5.4", "501 5.5.4", "501 5.5.4", "250 2.1.0"]),
            ("RCPT parameters", ["EHLO c.example", "MAIL FROM:<a@b.example>",
                                 "RCPT TO:<alice@example.onion> NOTIFY=NEVER"],
             ["250", "250 2.1.0", "555 5.5.4"]),
            ("HELO refuses parameters", ["HELO c.example", "MAIL FROM:<a@b.example> SIZE=10",
                                         "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.onion> X=1"],
             ["250", "555 5.5.4", "250 2.1.0", "555 5.5.4"]),
            ("policy rejects unknown mailbox", ["EHLO c.example", "MAIL FROM:<a@b.example>",
                                                "RCPT TO:<mallory@example.onion>"],
             ["250", "250 2.1.0", "550 5.1.1"]),
            ("non-ASCII in a command", ["EHLO c\u{e9}.example", "NOOP \u{e9}", "V\u{c9}RIFY x"],
             ["500 5.5.2", "500 5.5.2", "500 5.5.2"]),
            ("control character in a command", ["NOOP a\u{0}b", "NOOP a\rb"], ["500 5.5.2", "500 5.5.2"]),
            ("QUIT with argument", ["QUIT now"], ["501 5.5.4"]),
            ("QUIT", ["QUIT", "NOOP"], ["221 2.0.0"]),
        ]
        for testCase in cases {
            let (got, _) = codes(testCase.lines)
            XCTAssertEqual(got, testCase.expected, testCase.name)
        }
    }

    // MARK: Named limits, one past each

    func testCommandLineLimit() {
        let atLimit = "NOOP " + String(repeating: "x", count: 512 - 2 - 5)   // 512 with CRLF
        let pastLimit = "NOOP " + String(repeating: "x", count: 512 - 2 - 4) // 513 with CRLF
        let (got, wire) = codes([atLimit, pastLimit, "NOOP"])
        XCTAssertEqual(got, ["250 2.0.0", "500 5.5.2", "250 2.0.0"])
        XCTAssertEqual(wire.replies[1].lines, ["Line too long (command line limit 512 octets)"])
        // The session checks too when the adapter hands over a longer line.
        var session = ServerSession(configuration: ServerConfiguration(hostname: "h"), policy: TestPolicy())
        _ = session.receive(.ready)
        XCTAssertEqual(session.receive(.line(Array((pastLimit + "\r").utf8))),
                       [.send(.commandLineTooLong(limit: 512))])
    }

    func testTextLineLimit() {
        let atLimit = String(repeating: "a", count: 998)   // 1000 with CRLF
        let pastLimit = String(repeating: "b", count: 999) // 1001 with CRLF
        var (got, wire) = codes(Self.hello + ["DATA", atLimit, "."])
        XCTAssertEqual(got, ["250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"])
        XCTAssertEqual(wire.stores.count, 1)
        (got, wire) = codes(Self.hello + ["DATA", pastLimit, "more", ".", "NOOP"])
        XCTAssertEqual(got, ["250", "250 2.1.0", "250 2.1.5", "354", "554 5.6.0", "250 2.0.0"])
        XCTAssertEqual(wire.replies[4].lines,
                       ["Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)"])
        XCTAssertTrue(wire.stores.isEmpty)
    }

    func testAddressLengthLimits() {
        let local64 = String(repeating: "l", count: 64)
        let local65 = String(repeating: "l", count: 65)
        let label63 = String(repeating: "d", count: 63)
        // 63+1+63+1+63+1+63 = 255 octets; one more label character makes 256.
        let domain255 = [label63, label63, label63, label63].joined(separator: ".")
        let domain256 = [label63, label63, label63, label63 + "d"].joined(separator: ".")
        // "<" + 63 + "@" + 191 + ">" = 257; with a 190-octet domain, 256.
        let domain191 = [label63, label63, String(repeating: "e", count: 63)].joined(separator: ".")
        let domain190 = [label63, label63, String(repeating: "e", count: 62)].joined(separator: ".")
        let local63 = String(repeating: "l", count: 63)
        XCTAssertEqual(domain255.utf8.count, 255)
        XCTAssertEqual(domain191.utf8.count, 191)

        let wide = Limits(pathLength: 1000)
        let cases: [(name: String, limits: Limits, lines: [String], expected: [String])] = [
            ("local part 64 ok", Limits(), ["EHLO c.example", "MAIL FROM:<\(local64)@b.example>"],
             ["250", "250 2.1.0"]),
            ("local part 65 in MAIL", Limits(), ["EHLO c.example", "MAIL FROM:<\(local65)@b.example>"],
             ["250", "501 5.1.7"]),
            ("local part 65 in RCPT", Limits(), ["EHLO c.example", "MAIL FROM:<>",
                                                 "RCPT TO:<\(local65)@example.onion>"],
             ["250", "250 2.1.0", "501 5.1.3"]),
            ("domain 255 ok", wide, ["EHLO c.example", "MAIL FROM:<a@\(domain255)>"], ["250", "250 2.1.0"]),
            ("domain 256 in RCPT", Limits(), ["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<a@\(domain256)>"],
             ["250", "250 2.1.0", "501 5.1.3"]),
            ("domain 256 in MAIL", wide, ["EHLO c.example", "MAIL FROM:<a@\(domain256)>"],
             ["250", "501 5.1.7"]),
            ("path 256 ok", Limits(), ["EHLO c.example", "MAIL FROM:<\(local63)@\(domain190)>"],
             ["250", "250 2.1.0"]),
            ("path 257 in MAIL", Limits(), ["EHLO c.example", "MAIL FROM:<\(local63)@\(domain191)>"],
             ["250", "501 5.1.7"]),
            ("path 257 in RCPT", Limits(), ["EHLO c.example", "MAIL FROM:<>",
                                            "RCPT TO:<\(local63)@\(domain191)>"],
             ["250", "250 2.1.0", "501 5.1.3"]),
        ]
        for testCase in cases {
            let (got, _) = codes(testCase.lines, limits: testCase.limits)
            XCTAssertEqual(got, testCase.expected, testCase.name)
        }
        let (_, wire) = codes(["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<\(local65)@example.onion>",
                               "RCPT TO:<a@\(domain256)>", "RCPT TO:<\(local63)@\(domain191)>"])
        XCTAssertEqual(wire.replies.suffix(3).map(\.lines), [
            ["Local part longer than 64 octets"], ["Domain longer than 255 octets"],
            ["Path longer than 256 octets"],
        ])
    }

    func testRecipientLimit() {
        var wire = Wire.connected(limits: Limits(maxRecipients: 3))
        wire.send(["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<alice@example.onion>",
                   "RCPT TO:<bob@example.onion>", "RCPT TO:<alice@alias.test>",
                   "RCPT TO:<bob@alias.test>", "RCPT TO:<alice@example.onion>"])
        XCTAssertEqual(wire.codes.suffix(5), ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3", "452 4.5.3"])
        XCTAssertEqual(wire.replies.last?.lines, ["Too many recipients"])

        // The default is 100; the 101st recipient gets 452 4.5.3, not an error.
        XCTAssertEqual(Limits().maxRecipients, 100)
        var session = ServerSession(configuration: ServerConfiguration(hostname: "h"), policy: AcceptAllPolicy())
        _ = session.receive(.ready)
        _ = session.receive(.line(Array("EHLO c.example\r".utf8)))
        _ = session.receive(.line(Array("MAIL FROM:<>\r".utf8)))
        for index in 1...100 {
            XCTAssertEqual(session.receive(.line(Array("RCPT TO:<u\(index)@h>\r".utf8))), [.send(.recipientOK)])
        }
        for _ in 1...20 {
            XCTAssertEqual(session.receive(.line(Array("RCPT TO:<u101@h>\r".utf8))), [.send(.tooManyRecipients)])
        }
        XCTAssertFalse(session.isClosed)
    }

    func testMessageSizeLimit() {
        let limits = Limits(maxMessageSize: 100)
        let line48 = String(repeating: "x", count: 48)  // 50 octets with CRLF
        let cases: [(name: String, lines: [String], expected: [String], stored: Int)] = [
            ("SIZE at limit", ["EHLO c.example", "MAIL FROM:<> SIZE=100"], ["250", "250 2.1.0"], 0),
            ("SIZE over limit", ["EHLO c.example", "MAIL FROM:<> SIZE=101"], ["250", "552 5.3.4"], 0),
            ("SIZE beyond 64 bits", ["EHLO c.example", "MAIL FROM:<> SIZE=99999999999999999999999"],
             ["250", "552 5.3.4"], 0),
            ("DATA body at limit", Self.hello + ["DATA", line48, line48, "."],
             ["250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"], 1),
            ("DATA body over limit", Self.hello + ["DATA", line48, line48, "x", ".", "NOOP"],
             ["250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4", "250 2.0.0"], 0),
            ("BDAT at limit", Self.hello + ["BDAT 100 LAST" + "\r\n" + String(repeating: "y", count: 98)],
             ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0"], 1),
            ("BDAT over limit", Self.hello + ["BDAT 60", String(repeating: "y", count: 58),
                                              "BDAT 41 LAST", String(repeating: "z", count: 39), "NOOP"],
             ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "552 5.3.4", "250 2.0.0"], 0),
        ]
        for testCase in cases {
            let (got, wire) = codes(testCase.lines, limits: limits)
            XCTAssertEqual(got, testCase.expected, testCase.name)
            XCTAssertEqual(wire.stores.count, testCase.stored, testCase.name)
        }
        let (_, wire) = codes(["EHLO c.example", "MAIL FROM:<> SIZE=101"], limits: limits)
        XCTAssertEqual(wire.replies.last?.lines, ["Message size exceeds fixed maximum message size"])
    }

    func testTimeouts() {
        for (name, lines) in [("command", [String]()), ("after EHLO", ["EHLO c.example"]),
                              ("in DATA", Self.hello + ["DATA", "partial"]),
                              ("in BDAT", Self.hello + ["BDAT 100"])] {
            var wire = Wire.connected()
            wire.send(lines)
            wire.clear()
            wire.input(.timeout)
            XCTAssertEqual(wire.effects, [
                .send(Reply(421, EnhancedStatusCode(4, 4, 2), "node.example.onion Timeout, closing connection")),
                .close,
            ], name)
            XCTAssertTrue(wire.session.isClosed, name)
            XCTAssertEqual(wire.session.receive(.line(Array("NOOP\r".utf8))), [], name)
        }
        // DATA switches to the data timeout, commands to the command timeout.
        var wire = Wire.connected(limits: Limits(commandTimeoutMilliseconds: 1000, dataTimeoutMilliseconds: 2000))
        wire.send(Self.hello + ["DATA"])
        XCTAssertEqual(wire.effects.suffix(2), [.expectLines(maxLength: 1000), .setReadTimeout(milliseconds: 2000)])
        wire.send(".")
        XCTAssertEqual(wire.effects.suffix(2), [.expectLines(maxLength: 512), .setReadTimeout(milliseconds: 1000)])
    }

    func testProtocolErrorLimit() {
        var wire = Wire.connected()
        wire.clear()
        for _ in 1...9 {
            wire.send("FOO")
        }
        XCTAssertEqual(wire.codes, Array(repeating: "500 5.5.1", count: 9))
        XCTAssertFalse(wire.session.isClosed)
        wire.send("EHLO c.example")  // successes do not reset the count
        wire.clear()
        wire.send("MAIL FROM:<@route.example:a@b.example")  // a tenth error
        XCTAssertEqual(wire.effects, [
            .send(.badAddressSyntax(isRecipient: false)),
            .send(Reply(421, EnhancedStatusCode(4, 7, 0), "node.example.onion Too many errors, closing connection")),
            .close,
        ])
        XCTAssertTrue(wire.session.isClosed)
        XCTAssertEqual(wire.session.receive(.ready), [])
        XCTAssertEqual(wire.session.receive(.stored(.stored(queueID: "x"))), [])

        // 550 relay denials count; 452 does not.
        let (got, errorWire) = codes(["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<a@x.example>",
                                      "RCPT TO:<b@x.example>", "RCPT TO:<c@x.example>"],
                                     limits: Limits(maxProtocolErrors: 3))
        XCTAssertEqual(got, ["250", "250 2.1.0", "550 5.7.1", "550 5.7.1", "550 5.7.1", "421 4.7.0"])
        XCTAssertTrue(errorWire.session.isClosed)
    }

    // MARK: Relay

    func testRelayAttemptsAreRefused() {
        for forwardPath in ["<user@other.example>", "<@route.example:alice@example.onion>",
                            "<@a.example,@b.example:alice@example.onion>", "<ALICE@other.example>"] {
            let (got, wire) = codes(["EHLO c.example", "MAIL FROM:<a@b.example>", "RCPT TO:\(forwardPath)",
                                     "DATA", "QUIT"])
            XCTAssertEqual(got, ["250", "250 2.1.0", "550 5.7.1", "503 5.5.1", "221 2.0.0"], forwardPath)
            XCTAssertEqual(wire.replies[2].lines, ["Relaying denied"], forwardPath)
            XCTAssertTrue(wire.stores.isEmpty, forwardPath)
        }
    }

    func testSourceRouteIsRefusedByTheSessionNotThePolicy() {
        struct RecordingPolicy: RecipientPolicy {
            func decide(_ recipient: Mailbox) -> RecipientDecision {
                XCTFail("policy consulted for a source-routed path")
                return .accept
            }
        }
        var session = ServerSession(configuration: ServerConfiguration(hostname: "h"), policy: RecordingPolicy())
        _ = session.receive(.ready)
        _ = session.receive(.line(Array("EHLO c\r".utf8)))
        _ = session.receive(.line(Array("MAIL FROM:<>\r".utf8)))
        XCTAssertEqual(session.receive(.line(Array("RCPT TO:<@route.example:alice@h>\r".utf8))),
                       [.send(.relayDenied)])
        let path = try? Path.parse(Array("<@Route.Example,@b.example:alice@h>".utf8), limits: Limits(),
                                   allowsNull: false)
        XCTAssertEqual(path?.route, ["route.example", "b.example"])
        XCTAssertEqual(path?.mailbox, Mailbox(localPart: "alice", domain: "h"))
    }

    // MARK: Transactions

    func testBasicTransactionStoresTheEnvelopeAndMessage() {
        let (got, wire) = codes(["EHLO client.example.onion",
                                 "MAIL FROM:<carol@client.example.onion> BODY=8BITMIME SIZE=40",
                                 "RCPT TO:<Alice@Example.Onion>", "RCPT TO:<bob@alias.test>",
                                 "RCPT TO:<Alice@example.onion>", "RCPT TO:<\"Alice\"@EXAMPLE.onion>",
                                 "DATA", "Subject: hi", "", "body", ".", "QUIT"])
        XCTAssertEqual(got, ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "250 2.1.5",
                             "354", "250 2.0.0", "221 2.0.0"])
        XCTAssertEqual(wire.replies[7].lines, ["Ok: queued as Q1"])
        XCTAssertEqual(wire.replies[8].lines, ["node.example.onion closing connection"])
        XCTAssertEqual(wire.effects.last, .close)
        XCTAssertTrue(wire.session.isClosed)
        XCTAssertEqual(wire.stores.count, 1)
        let envelope = wire.stores[0].envelope
        XCTAssertEqual(envelope, Envelope(
            heloName: "client.example.onion",
            reversePath: Mailbox(localPart: "carol", domain: "client.example.onion"),
            recipients: [Mailbox(localPart: "Alice", domain: "example.onion"),
                         Mailbox(localPart: "bob", domain: "alias.test")],
            bodyType: .eightBitMIME, smtpUTF8: false, declaredSize: 40, protocolName: "ESMTPS"))
        XCTAssertEqual(String(decoding: wire.stores[0].message, as: UTF8.self), "Subject: hi\r\n\r\nbody\r\n")
    }

    func testStoreEffectIsLastAndNoReplyBeforeTheAnswer() {
        var wire = Wire.connected(autoStore: nil)
        wire.send(Self.hello + ["DATA", "x"])
        wire.clear()
        wire.send(".")
        guard case .store? = wire.effects.last else {
            return XCTFail("expected .store last, got \(wire.effects)")
        }
        XCTAssertTrue(wire.replies.isEmpty)
        wire.send(["NOOP", "QUIT"])  // pipelined while the store is outstanding: held
        XCTAssertTrue(wire.replies.isEmpty)
        wire.input(.stored(.stored(queueID: "ABC")))
        XCTAssertEqual(wire.codes, ["250 2.0.0", "250 2.0.0", "221 2.0.0"])
        XCTAssertEqual(wire.replies[0].lines, ["Ok: queued as ABC"])
        XCTAssertTrue(wire.session.isClosed)
    }

    func testStoreFailures() {
        for (result, expected, text) in [
            (StoreResult.temporaryFailure("Disk full"), "451 4.3.0", "Disk full"),
            (StoreResult.permanentFailure("Refused"), "554 5.3.0", "Refused"),
        ] {
            var wire = Wire.connected(autoStore: result)
            wire.send(Self.hello + ["DATA", "x", ".", "MAIL FROM:<>"])
            XCTAssertEqual(wire.codes.suffix(3), ["354", expected, "250 2.1.0"])
            XCTAssertEqual(wire.replies[wire.replies.count - 2].lines, [text])
        }
    }

    func testTransactionResets() {
        let (got, wire) = codes(["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<alice@example.onion>", "RSET",
                                 "RCPT TO:<alice@example.onion>", "MAIL FROM:<a@b.example>",
                                 "RCPT TO:<bob@example.onion>", "EHLO again.example", "DATA",
                                 "MAIL FROM:<x@y.example>", "HELO third.example", "MAIL FROM:<z@y.example>",
                                 "RCPT TO:<alice@example.onion>", "DATA", "m", "."])
        XCTAssertEqual(got, ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1", "250 2.1.0",
                             "250 2.1.5", "250", "503 5.5.1", "250 2.1.0", "250", "250 2.1.0", "250 2.1.5",
                             "354", "250 2.0.0"])
        XCTAssertEqual(wire.stores.first?.envelope.heloName, "third.example")
        XCTAssertEqual(wire.stores.first?.envelope.protocolName, "SMTPS")
        XCTAssertEqual(wire.stores.first?.envelope.recipients.count, 1)
    }

    func testPipelinedTransactionRepliesInOrder() {
        var wire = Wire.connected()
        wire.clear()
        wire.send(["EHLO c.example", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.onion>",
                   "RCPT TO:<mallory@example.onion>", "RCPT TO:<x@other.example>", "RCPT TO:<bob@alias.test>",
                   "DATA", "line 1", "..line 2", ".", "MAIL FROM:<>", "RCPT TO:<bob@example.onion>",
                   "BDAT 5 LAST", "abc", "NOOP", "QUIT"])
        XCTAssertEqual(wire.codes, ["250", "250 2.1.0", "250 2.1.5", "550 5.1.1", "550 5.7.1", "250 2.1.5",
                                    "354", "250 2.0.0", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0",
                                    "221 2.0.0"])
        XCTAssertEqual(wire.stores.map { String(decoding: $0.message, as: UTF8.self) },
                       ["line 1\r\n.line 2\r\n", "abc\r\n"])
        XCTAssertEqual(wire.stores.map { $0.envelope.recipients.map(\.localPart) }, [["alice", "bob"], ["bob"]])
    }

    func testDotUnstuffing() {
        let (_, wire) = codes(Self.hello + ["DATA", "..x", "...", "..", ". not the end", "x.", "."])
        XCTAssertEqual(String(decoding: wire.stores[0].message, as: UTF8.self),
                       ".x\r\n..\r\n.\r\n not the end\r\nx.\r\n")
    }

    func testEmptyMessage() {
        let (got, wire) = codes(Self.hello + ["DATA", "."])
        XCTAssertEqual(got.last, "250 2.0.0")
        XCTAssertEqual(wire.stores.first?.message, [])
    }

    // MARK: Bare LF and SMTP smuggling

    func testBareLineFeedInCommand() {
        var wire = Wire.connected()
        wire.clear()
        wire.sendBytes(Array("NOOP\nNOOP\r\n".utf8))
        XCTAssertEqual(wire.codes, ["500 5.5.2", "250 2.0.0"])
        XCTAssertEqual(wire.replies[0].lines, ["Bare LF in command (RFC 5321 2.3.8)"])
    }

    func testBareLineFeedInDataRefusesTheMessage() {
        // The smuggling attempt: "\n.\n" then a second transaction inside the
        // first message. Neither message may be stored, no command executed.
        var wire = Wire.connected()
        wire.send(Self.hello + ["DATA"])
        wire.clear()
        wire.sendBytes(Array(("Subject: a\r\n\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\n"
                              + "RCPT TO:<bob@example.onion>\r\nDATA\r\nsmuggled\r\n.\r\nNOOP\r\n").utf8))
        XCTAssertEqual(wire.codes, ["554 5.6.0", "250 2.0.0"])
        XCTAssertEqual(wire.replies[0].lines, ["Message contains a bare LF (RFC 5321 2.3.8)"])
        XCTAssertTrue(wire.stores.isEmpty)

        // ".\r\r\n" and "\r.\r\n": a bare CR is refused as well.
        wire = Wire.connected()
        wire.send(Self.hello + ["DATA"])
        wire.clear()
        wire.sendBytes(Array("a\r.\r\n.\r\r\nb\r\n.\r\n".utf8))
        XCTAssertEqual(wire.codes, ["554 5.6.0"])
        XCTAssertTrue(wire.stores.isEmpty)
    }

    // MARK: BDAT

    func testChunking() {
        var wire = Wire.connected()
        wire.send(Self.hello)
        wire.clear()
        wire.sendBytes(Array("BDAT 5\r\nHelloBDAT 0\r\nBDAT 8 LAST\r\n, world\n".utf8))
        XCTAssertEqual(wire.codes, ["250 2.0.0", "250 2.0.0", "250 2.0.0"])
        XCTAssertEqual(wire.replies.map(\.lines), [["5 octets received"], ["0 octets received"], ["Ok: queued as Q1"]])
        XCTAssertEqual(wire.stores.map(\.message), [Array("Hello, world\n".utf8)])
        XCTAssertEqual(wire.effects.first, .expectBytes(5))

        // BDAT 0 LAST stores an empty message.
        wire.clear()
        wire.send(["MAIL FROM:<>", "RCPT TO:<bob@example.onion>", "BDAT 0 LAST"])
        XCTAssertEqual(wire.codes, ["250 2.1.0", "250 2.1.5", "250 2.0.0"])
        XCTAssertEqual(wire.stores.map(\.message), [[]])
    }

    func testRefusedChunkIsStillConsumed() {
        let cases: [(name: String, setup: [String], expected: [String])] = [
            ("no MAIL", ["EHLO c.example"], ["503 5.5.1", "250 2.0.0"]),
            ("no RCPT", ["EHLO c.example", "MAIL FROM:<>"], ["503 5.5.1", "250 2.0.0"]),
            ("after HELO", ["HELO c.example"], ["503 5.5.1", "250 2.0.0"]),
            ("before EHLO", [], ["503 5.5.1", "250 2.0.0"]),
        ]
        for testCase in cases {
            var wire = Wire.connected()
            wire.send(testCase.setup)
            wire.clear()
            wire.sendBytes(Array("BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n".utf8))
            XCTAssertEqual(wire.effects.first, .expectBytes(12), testCase.name)
            XCTAssertEqual(wire.codes, testCase.expected, testCase.name)
            XCTAssertFalse(wire.session.isClosed, testCase.name)
            XCTAssertTrue(wire.stores.isEmpty, testCase.name)
        }
        let (_, helo) = codes(["HELO c.example", "BDAT 0"])
        XCTAssertEqual(helo.replies.last?.lines, ["Error: BDAT requires EHLO"])
    }

    func testChunkSyntaxAndDataAfterBDAT() {
        let (got, wire) = codes(Self.hello + ["BDAT x", "BDAT 5 MORE", "BDAT -1", "BDAT",
                                              "BDAT 99999999999999999999999", "BDAT 4", "ab", "DATA"])
        XCTAssertEqual(got, ["250", "250 2.1.0", "250 2.1.5", "501 5.5.4", "501 5.5.4", "501 5.5.4",
                             "501 5.5.4", "501 5.5.4", "250 2.0.0", "503 5.5.1"])
        XCTAssertFalse(wire.effects.contains(.expectBytes(5)))
        XCTAssertEqual(wire.replies.last?.lines, ["Error: DATA after BDAT"])
    }

    func testHeldCommandsAfterChunkLast() {
        var wire = Wire.connected(autoStore: nil)
        wire.send(Self.hello)
        wire.clear()
        wire.sendBytes(Array("BDAT 3 LAST\r\nabcMAIL FROM:<>\r\nRCPT TO:<bob@example.onion>\r\nBDAT 2 LAST\r\nxyQUIT\r\n".utf8))
        XCTAssertTrue(wire.replies.isEmpty)
        XCTAssertEqual(wire.stores.count, 1)
        wire.input(.stored(.stored(queueID: "A")))
        // The held "BDAT 2 LAST" was followed by lines that were really its bytes.
        XCTAssertEqual(wire.codes, ["250 2.0.0", "250 2.1.0", "250 2.1.5"])
        XCTAssertEqual(wire.stores.count, 2)
        XCTAssertEqual(wire.stores.last?.message, Array("xy".utf8))
        wire.input(.stored(.stored(queueID: "B")))
        XCTAssertEqual(wire.codes, ["250 2.0.0", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"])
        XCTAssertTrue(wire.session.isClosed)
    }

    func testHeldCommandLimit() {
        var wire = Wire.connected(limits: Limits(maxHeldCommands: 2), autoStore: nil)
        wire.send(Self.hello + ["DATA", "x", ".", "NOOP", "NOOP", "NOOP"])
        wire.clear()
        wire.input(.stored(.stored(queueID: "A")))
        XCTAssertEqual(wire.codes, ["250 2.0.0", "421 4.7.0"])
        XCTAssertTrue(wire.session.isClosed)
    }

    // MARK: SMTPUTF8

    func testSMTPUTF8Addresses() {
        let cases: [(name: String, lines: [String], expected: [String], protocolName: String?)] = [
            ("UTF-8 sender with SMTPUTF8",
             ["EHLO c.example", "MAIL FROM:<j\u{f6}rg@b\u{fc}cher.example> SMTPUTF8",
              "RCPT TO:<alice@example.onion>", "DATA", "x", "."],
             ["250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"], "UTF8SMTPS"),
            ("UTF-8 sender without SMTPUTF8", ["EHLO c.example", "MAIL FROM:<j\u{f6}rg@b.example>"],
             ["250", "553 5.6.7"], nil),
            ("UTF-8 recipient without SMTPUTF8", ["EHLO c.example", "MAIL FROM:<a@b.example>",
                                                  "RCPT TO:<\u{e4}lice@example.onion>"],
             ["250", "250 2.1.0", "553 5.6.7"], nil),
            ("UTF-8 recipient with SMTPUTF8", ["EHLO c.example", "MAIL FROM:<a@b.example> SMTPUTF8",
                                               "RCPT TO:<\u{e4}lice@example.onion>"],
             ["250", "250 2.1.0", "550 5.1.1"], nil),
            ("UTF-8 in a parameter", ["EHLO c.example", "MAIL FROM:<a@b.example> X=\u{e4}"],
             ["250", "500 5.5.2"], nil),
        ]
        for testCase in cases {
            let (got, wire) = codes(testCase.lines)
            XCTAssertEqual(got, testCase.expected, testCase.name)
            XCTAssertEqual(wire.stores.first?.envelope.protocolName, testCase.protocolName, testCase.name)
        }
        let (_, wire) = codes(["EHLO c.example", "MAIL FROM:<j\u{f6}rg@b.example>"])
        XCTAssertEqual(wire.replies.last?.lines, ["Non-ASCII address requires SMTPUTF8"])
        // Invalid UTF-8 is a syntax error, not a non-ASCII address.
        var session = ServerSession(configuration: ServerConfiguration(hostname: "h"), policy: TestPolicy())
        _ = session.receive(.ready)
        _ = session.receive(.line(Array("EHLO c\r".utf8)))
        XCTAssertEqual(session.receive(.line(Array("MAIL FROM:<a".utf8) + [0xFF] + Array("@b> SMTPUTF8\r".utf8))),
                       [.send(.badAddressSyntax(isRecipient: false))])
    }

    func testProtocolNames() {
        let cases: [(hello: String, parameter: String, tls: Bool, expected: String)] = [
            ("EHLO", "", true, "ESMTPS"), ("EHLO", " SMTPUTF8", true, "UTF8SMTPS"), ("HELO", "", true, "SMTPS"),
            ("EHLO", "", false, "ESMTP"), ("EHLO", " SMTPUTF8", false, "UTF8SMTP"), ("HELO", "", false, "SMTP"),
        ]
        for testCase in cases {
            let (_, wire) = codes(["\(testCase.hello) c.example", "MAIL FROM:<a@b.example>\(testCase.parameter)",
                                   "RCPT TO:<bob@example.onion>", "DATA", "."], tlsActive: testCase.tls)
            XCTAssertEqual(wire.stores.first?.envelope.protocolName, testCase.expected)
        }
    }

    func testPostmasterWithoutDomain() {
        let (got, wire) = codes(["EHLO c.example", "MAIL FROM:<>", "RCPT TO:<Postmaster>", "DATA"],
                                limits: Limits())
        XCTAssertEqual(got, ["250", "250 2.1.0", "550 5.7.1", "503 5.5.1"])  // node.example.onion is not in TestPolicy
        XCTAssertTrue(wire.stores.isEmpty)
        var session = ServerSession(configuration: ServerConfiguration(hostname: "Example.Onion"), policy: TestPolicy())
        _ = session.receive(.ready)
        _ = session.receive(.line(Array("EHLO c\r".utf8)))
        _ = session.receive(.line(Array("MAIL FROM:<>\r".utf8)))
        XCTAssertEqual(session.receive(.line(Array("RCPT TO:<postmaster>\r".utf8))), [.send(.recipientOK)])
        XCTAssertEqual(session.receive(.line(Array("RSET\r".utf8))), [.send(.ok)])
        // <Postmaster> without a domain is a forward path only.
        XCTAssertEqual(session.receive(.line(Array("MAIL FROM:<postmaster>\r".utf8))),
                       [.send(.badAddressSyntax(isRecipient: false))])
    }

    // MARK: VRFY, HELP

    func testVerifyNeverConfirms() {
        let (got, wire) = codes(["VRFY alice", "EHLO c.example", "VRFY <bob@example.onion>"])
        XCTAssertEqual(got, ["252 2.5.0", "250", "252 2.5.0"])
        XCTAssertEqual(wire.replies[0].lines, ["Cannot VRFY user, but will accept message for local mailboxes"])
    }

    func testHelpListsTheVerbs() {
        let (_, wire) = codes(["HELP"])
        XCTAssertEqual(String(decoding: wire.transcript, as: UTF8.self),
                       "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n"
                       + "214 2.0.0 End of HELP info\r\n")
    }
}

/// Replies, paths, commands and the verb table on their own.
final class ProtocolElementTests: XCTestCase {
    func testReplyWireBytes() {
        let reply = Reply(code: 250, enhanced: EnhancedStatusCode(2, 0, 0), lines: ["first", "last"])
        XCTAssertEqual(reply.wireBytes(), Array("250-2.0.0 first\r\n250 2.0.0 last\r\n".utf8))
        XCTAssertEqual(Reply(code: 354, enhanced: nil, lines: []).wireBytes(), Array("354\r\n".utf8))
        // No reply text can inject a line.
        XCTAssertEqual(Reply.storeTemporaryFailure("a\r\n250 ok").wireBytes(), Array("451 4.3.0 a  250 ok\r\n".utf8))
    }

    func testMailboxParsingAndRendering() throws {
        let cases: [(input: String, local: String, domain: String, quoted: Bool, text: String)] = [
            ("<alice@Example.ONION>", "alice", "example.onion", false, "alice@example.onion"),
            ("<\"a@b\"@x.example>", "a@b", "x.example", true, "\"a@b\"@x.example"),
            ("<\"alice\"@x.example>", "alice", "x.example", true, "alice@x.example"),
            ("<\"a\\\"b\\\\c d\"@x.example>", "a\"b\\c d", "x.example", true, "\"a\\\"b\\\\c d\"@x.example"),
            ("<first.last+tag@x.example>", "first.last+tag", "x.example", false, "first.last+tag@x.example"),
            ("<a@[192.0.2.1]>", "a", "[192.0.2.1]", false, "a@[192.0.2.1]"),
            ("<a@[IPv6:2001:DB8::1]>", "a", "[IPv6:2001:DB8::1]", false, "a@[IPv6:2001:DB8::1]"),
            ("<a@[IPv6:::ffff:192.0.2.1]>", "a", "[IPv6:::ffff:192.0.2.1]", false, "a@[IPv6:::ffff:192.0.2.1]"),
            ("<J\u{f6}rg@B\u{fc}cher.Example>", "J\u{f6}rg", "b\u{fc}cher.example", false, "J\u{f6}rg@b\u{fc}cher.example"),
        ]
        for testCase in cases {
            let path = try Path.parse(Array(testCase.input.utf8), limits: Limits(), allowsNull: false)
            XCTAssertEqual(path.mailbox, Mailbox(localPart: testCase.local, domain: testCase.domain,
                                                 isQuotedLocalPart: testCase.quoted), testCase.input)
            XCTAssertEqual(path.mailbox?.text, testCase.text, testCase.input)
            XCTAssertTrue(path.route.isEmpty)
        }
        XCTAssertEqual(try Path.parse(Array("<>".utf8), limits: Limits(), allowsNull: true), Path(mailbox: nil))
    }

    func testInvalidPaths() {
        let invalid = ["<>", "alice@x.example", "<alice@x.example", "<alice>", "<a..b@x.example>", "<a.@x.example>",
                       "<a@x..example>", "<a@x.example.>", "<a@-x.example>", "<a@x-.example>", "<a@x_y.example>",
                       "<a b@x.example>", "<\"a@x.example>", "<a@[300.1.1.1]>", "<a@[1.2.3]>", "<a@[IPv6:1:2]>",
                       "<a@[IPv6:1::2::3]>", "<a@[x:y]>", "<@:a@x.example>", "<@x.example a@x.example>",
                       "<a@x.example> ", "<a(b)@x.example>"]
        for text in invalid {
            XCTAssertThrowsError(try Path.parse(Array(text.utf8), limits: Limits(), allowsNull: false), text)
        }
        XCTAssertThrowsError(try Path.parse(Array("<>".utf8), limits: Limits(), allowsNull: false)) { error in
            XCTAssertEqual(error as? PathError, .nullPathNotAllowed)
        }
    }

    func testCommandParsing() throws {
        XCTAssertEqual(try Command.parse(Array("mail FROM:<a@b.example> SIZE=10 smtputf8".utf8), limits: Limits()),
                       .mail(reversePath: Path(mailbox: Mailbox(localPart: "a", domain: "b.example")),
                             parameters: [ESMTPParameter(keyword: "SIZE", value: "10"),
                                          ESMTPParameter(keyword: "SMTPUTF8", value: nil)]))
        XCTAssertEqual(try Command.parse(Array("BDAT 10 last".utf8), limits: Limits()),
                       .binaryData(size: 10, isLast: true))
        XCTAssertEqual(try Command.parse(Array("HELP mail".utf8), limits: Limits()), .help(topic: "mail"))
        XCTAssertEqual(try Command.parse(Array("STARTTLS".utf8), limits: Limits()), .notImplemented(.startTLS))
        XCTAssertThrowsError(try Command.parse(Array("BOGUS".utf8), limits: Limits())) { error in
            XCTAssertEqual(error as? CommandError, .unknownVerb)
        }
    }

    func testVerbTableCoversEveryVerbOnce() {
        for verb in Verb.allCases {
            XCTAssertEqual(VerbTable.entries.filter { $0.verb == verb }.count, 1)
            XCTAssertFalse(verb.name.isEmpty)
        }
        XCTAssertEqual(VerbTable.entries.count, Verb.allCases.count)
        XCTAssertTrue(Verb.data.endsPipelinedGroup)
        XCTAssertFalse(Verb.binaryData.endsPipelinedGroup)
        XCTAssertFalse(Verb.mail.endsPipelinedGroup)
    }
}
