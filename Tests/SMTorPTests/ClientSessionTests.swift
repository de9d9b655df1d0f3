// ClientSessionTests.swift — runs the ESMTP client session against the
// server session in memory, no sockets (the client's bytes framed for the
// server as the C core frames them: lines, and BDAT octet counts from
// `.expectBytes`), and against hand-written server replies: per-recipient
// results, round trips, pipelining, BDAT and DATA transparency, HELO
// fallback, malformed replies, limits, timeouts.

import XCTest
@testable import SMTorP

/// Accepts alice and bob at example.onion; 550 5.7.1 for other domains,
/// 550 5.1.1 for other local parts.
private struct LoopbackPolicy: RecipientPolicy {
    func decide(_ recipient: Mailbox) -> RecipientDecision {
        guard recipient.domain == "example.onion" else {
            return .reject(.relayDenied)
        }
        guard ["alice", "bob", "jörg"].contains(recipient.localPart) else {
            return .reject(.mailboxUnavailable)
        }
        return .accept
    }
}

/// A server session behind a simulated C core: bytes in, reply bytes out.
private struct ServerEnd {
    static let hostname = "server.example.onion"

    var session: ServerSession<LoopbackPolicy>
    var framing: CoreFraming
    /// Answers to `.store`, in order; then `.stored(queueID: "Q<n>")`.
    var storeResults: [StoreResult] = []
    /// EHLO keywords taken out of the server's EHLO reply, to play a server
    /// without them (the server session itself still accepts everything).
    var withheldExtensions: [String] = []
    /// Announce SIZE without its number, so that the client does not know
    /// the limit (and the server refuses MAIL SIZE= instead).
    var hidesSizeLimit = false
    /// Answer EHLO with 502, to play a HELO-only server (the server session
    /// itself accepted the EHLO; HELO then resets it).
    var refusesExtendedHello = false
    var stored: [(envelope: Envelope, message: [UInt8])] = []
    var isClosed = false
    private var output: [UInt8] = []

    /// Answers the server's `.checkStamp` effects when it offers POW.
    var stampChecker: ((String?, Mailbox) -> Reply?)?

    init(limits: Limits = Limits(), proofOfWork: [PowRequirement]? = nil) {
        session = ServerSession(
            configuration: ServerConfiguration(hostname: ServerEnd.hostname, limits: limits,
                                               proofOfWork: proofOfWork),
            policy: LoopbackPolicy())
        framing = CoreFraming(maxLine: limits.commandLineLength)
    }

    mutating func ready() -> [UInt8] {
        apply(session.receive(.ready))
        return takeOutput()
    }

    mutating func receive(_ bytes: [UInt8]) -> [UInt8] {
        framing.buffer.append(contentsOf: bytes)
        pump()
        return takeOutput()
    }

    private mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    private mutating func apply(_ effects: [ServerEffect]) {
        for effect in effects {
            switch effect {
            case .send(var reply):
                if reply.code == 250, reply.lines.first == ServerEnd.hostname, reply.lines.count > 1 {
                    reply.lines = reply.lines.filter { line in
                        !withheldExtensions.contains(String(line.split(separator: " ").first ?? ""))
                    }.map { line in
                        hidesSizeLimit && line.hasPrefix("SIZE ") ? "SIZE" : line
                    }
                    if refusesExtendedHello {
                        reply = .notImplemented
                    }
                }
                output.append(contentsOf: reply.wireBytes())
            case .expectLines(let maxLength):
                framing.mode = .lines(maxLength)
            case .expectBytes(let count):
                framing.mode = .bytes(count)
            case .store(let envelope, let message):
                stored.append((envelope, message))
                let result = storeResults.isEmpty
                    ? StoreResult.stored(queueID: "Q\(stored.count)") : storeResults.removeFirst()
                apply(session.receive(.stored(result)))
            case .checkStamp(let stamp, let recipient):
                let refusal = stampChecker.map { $0(stamp, recipient) }
                    ?? Reply(450, EnhancedStatusCode(4, 7, 0), "no checker")
                apply(session.receive(.stampChecked(refusal)))
            case .close:
                isClosed = true
            case .setReadTimeout:
                break
            }
        }
    }

    private mutating func pump() {
        while !session.isClosed, let input = framing.next() {
            apply(session.receive(input))
        }
    }
}

/// The client and the server session wired together in memory, run in
/// rounds as a network would: each side sends everything it can (one
/// flight), then the other side reads all of it.
private struct Loopback {
    var client: ClientSession
    var server: ServerEnd
    /// The client's flights, as sent.
    var clientFlights: [[UInt8]] = []
    var reports: [DeliveryReport] = []
    var clientClosed = false
    private var clientOutput: [UInt8] = []
    private var serverOutput: [UInt8] = []

    init(messages: [ClientMessage], finished: Bool, server: ServerEnd = ServerEnd()) {
        client = ClientSession(configuration: ClientConfiguration(heloName: "client.example.onion"),
                               messages: messages)
        self.server = server
        if finished {
            apply(client.receive(.finish))
        }
        apply(client.receive(.ready))
        serverOutput = self.server.ready()
        run()
    }

    /// The client's flights as text.
    var flights: [String] {
        clientFlights.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Gives the client an input (from its owner) and runs to quiescence.
    mutating func input(_ input: ClientInput) {
        apply(client.receive(input))
        run()
    }

    private mutating func apply(_ effects: [ClientEffect]) {
        for effect in effects {
            switch effect {
            case .send(let bytes):
                clientOutput.append(contentsOf: bytes)
            case .finished(let report):
                reports.append(report)
            case .close:
                clientClosed = true
            case .setReadTimeout, .extensionsAnnounced:
                break
            }
        }
    }

    private mutating func run() {
        for _ in 0..<100 {
            if !serverOutput.isEmpty {
                let bytes = serverOutput
                serverOutput = []
                var start = 0
                for index in bytes.indices where bytes[index] == 0x0A {
                    if !clientClosed {
                        apply(client.receive(.line(Array(bytes[start..<index]))))
                    }
                    start = index + 1
                }
            }
            if server.isClosed && !clientClosed {
                apply(client.receive(.closed))
            }
            guard !clientOutput.isEmpty else {
                return
            }
            clientFlights.append(clientOutput)
            let bytes = clientOutput
            clientOutput = []
            if !server.isClosed {
                serverOutput = server.receive(bytes)
            }
        }
        XCTFail("the conversation did not settle")
    }
}

private func mailbox(_ text: String) -> Mailbox {
    let parts = text.split(separator: "@", maxSplits: 1)
    return Mailbox(localPart: String(parts[0]), domain: String(parts[1]))
}

private func message(
    _ identifier: String = "m1", from: String? = "carol@client.example.onion",
    to recipients: [String], text: String = "Subject: hi\r\n\r\nHello.\r\n"
) -> ClientMessage {
    ClientMessage(identifier: identifier, reversePath: from.map(mailbox), recipients: recipients.map(mailbox),
                  content: Array(text.utf8))
}

/// "code enhanced" of an outcome's reply, e.g. "250 2.0.0".
private func summary(_ result: RecipientResult) -> String {
    let reply = result.outcome.reply
    let code = reply.enhanced.map { "\(reply.code) \($0.text)" } ?? "\(reply.code)"
    switch result.outcome {
    case .delivered:
        return "\(result.recipient.text): delivered \(code)"
    case .temporaryFailure:
        return "\(result.recipient.text): temporary \(code)"
    case .permanentFailure:
        return "\(result.recipient.text): permanent \(code)"
    }
}

/// The lines of a reply text, each without its LF (the CR kept).
private func replyLines(_ text: String) -> [[UInt8]] {
    Array(text.utf8).split(separator: 0x0A).map { Array($0) }
}

/// Drives a client by hand, playing a scripted server.
private struct Script {
    var client: ClientSession
    var reports: [DeliveryReport] = []
    var timeouts: [UInt64] = []
    var closed = false
    var announced: [ClientExtensions] = []

    init(_ messages: [ClientMessage], finished: Bool = true, limits: ClientLimits = ClientLimits()) {
        client = ClientSession(
            configuration: ClientConfiguration(heloName: "client.example.onion", limits: limits),
            messages: messages)
        if finished {
            _ = client.receive(.finish)
        }
        XCTAssertEqual(step(.ready), "")
    }

    /// Feeds an input; returns what the client sent in response.
    @discardableResult
    mutating func step(_ input: ClientInput) -> String {
        var sent: [UInt8] = []
        for effect in client.receive(input) {
            switch effect {
            case .send(let bytes):
                sent.append(contentsOf: bytes)
            case .setReadTimeout(let milliseconds):
                timeouts.append(milliseconds)
            case .finished(let report):
                reports.append(report)
            case .close:
                closed = true
            case .extensionsAnnounced(let extensions):
                announced.append(extensions)
            }
        }
        return String(decoding: sent, as: UTF8.self)
    }

    /// Feeds the server's reply text (lines separated by CRLF); returns what
    /// the client sent in response.
    @discardableResult
    mutating func reply(_ text: String) -> String {
        var sent = ""
        for line in replyLines(text) {
            sent += step(.line(line))
        }
        return sent
    }

    var summaries: [String] {
        reports.flatMap { $0.recipients.map(summary) }
    }
}

private let fullEHLO = "250-server.example.onion\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
    + "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"

final class ClientSessionTests: XCTestCase {
    // MARK: - Against the server session, in memory

    func testOneMessageTwoRecipientsOneRefused() {
        let loop = Loopback(
            messages: [message(to: ["alice@example.onion", "mallory@elsewhere.test"])], finished: true)
        XCTAssertEqual(loop.reports.count, 1)
        XCTAssertEqual(loop.reports.first.map { $0.recipients.map(summary) }, [
            "alice@example.onion: delivered 250 2.0.0",
            "mallory@elsewhere.test: permanent 550 5.7.1",
        ])
        XCTAssertEqual(loop.reports.first?.recipients.first?.outcome.reply.lines, ["Ok: queued as Q1"])
        XCTAssertEqual(loop.reports.first?.isAccepted, true)
        XCTAssertEqual(loop.server.stored.count, 1)
        XCTAssertEqual(loop.server.stored.first?.envelope.recipients, [mailbox("alice@example.onion")])
        XCTAssertEqual(loop.server.stored.first?.message, Array("Subject: hi\r\n\r\nHello.\r\n".utf8))
        XCTAssertTrue(loop.clientClosed)
        XCTAssertTrue(loop.server.isClosed, "QUIT was answered")
    }

    func testRoundTripsWithPipeliningAndChunking() {
        let text = "Subject: hi\r\n\r\nHello.\r\n"
        // The owner says .finish after the message is done: EHLO, the
        // transaction, QUIT.
        var loop = Loopback(messages: [message(to: ["alice@example.onion", "bob@example.onion"])], finished: false)
        XCTAssertEqual(loop.reports.count, 1)
        loop.input(.finish)
        XCTAssertEqual(loop.flights, [
            "EHLO client.example.onion\r\n",
            "MAIL FROM:<carol@client.example.onion> SIZE=\(text.utf8.count)\r\n"
                + "RCPT TO:<alice@example.onion>\r\nRCPT TO:<bob@example.onion>\r\n"
                + "BDAT \(text.utf8.count) LAST\r\n" + text,
            "QUIT\r\n",
        ])
        print("round trips after the greeting (finish later): \(loop.clientFlights.count)")

        // The owner said .finish beforehand: QUIT joins the transaction.
        let early = Loopback(messages: [message(to: ["alice@example.onion", "bob@example.onion"])], finished: true)
        XCTAssertEqual(early.clientFlights.count, 2)
        XCTAssertTrue(early.flights.last?.hasSuffix(text + "QUIT\r\n") ?? false)
        XCTAssertEqual(early.reports.first.map { $0.recipients.map(summary) }, [
            "alice@example.onion: delivered 250 2.0.0",
            "bob@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertTrue(early.clientClosed)
        print("round trips after the greeting (finish given first): \(early.clientFlights.count)")
    }

    func testFinishWhileTheLastTransactionIsInFlightSendsQuitAtOnce() {
        var client = ClientSession(configuration: ClientConfiguration(heloName: "client.example.onion"),
                                   messages: [message(to: ["alice@example.onion"])])
        _ = client.receive(.ready)
        _ = client.receive(.line(Array("220 server.example.onion ESMTP\r".utf8)))
        for line in replyLines(fullEHLO) {
            _ = client.receive(.line(line))
        }
        XCTAssertEqual(client.receive(.finish), [.send(Array("QUIT\r\n".utf8))])
    }

    func testSeveralMessagesOnOneConnection() {
        var loop = Loopback(messages: [
            message("m1", to: ["alice@example.onion"], text: "Subject: one\r\n\r\n1\r\n"),
            message("m2", to: ["bob@example.onion", "nobody@example.onion"], text: "Subject: two\r\n\r\n2\r\n"),
        ], finished: false)
        XCTAssertEqual(loop.reports.map(\.identifier), ["m1", "m2"])
        loop.input(.enqueue(message("m3", from: nil, to: ["alice@example.onion"], text: "Subject: three\r\n\r\n3\r\n")))
        loop.input(.finish)
        XCTAssertEqual(loop.reports.map(\.identifier), ["m1", "m2", "m3"])
        XCTAssertEqual(loop.reports.flatMap { $0.recipients.map(summary) }, [
            "alice@example.onion: delivered 250 2.0.0",
            "bob@example.onion: delivered 250 2.0.0",
            "nobody@example.onion: permanent 550 5.1.1",
            "alice@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertEqual(loop.server.stored.map { String(decoding: $0.message, as: UTF8.self) },
                       ["Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n2\r\n", "Subject: three\r\n\r\n3\r\n"])
        XCTAssertNil(loop.server.stored.last?.envelope.reversePath, "the null reverse path <>")
        XCTAssertFalse(loop.flights.contains { $0.contains("RSET") }, "every transaction ended cleanly")
        XCTAssertEqual(loop.clientFlights.count, 5, "EHLO, one flight per message, QUIT")
    }

    func testLeadingDotsRoundTripExactly() {
        let text = ".\r\n..\r\n.hidden\r\nSubject: dots\r\n\r\n.\r\nmiddle . line\r\n...\r\n.\r\n"
        for withheld in [[], ["CHUNKING"], ["CHUNKING", "PIPELINING"]] {
            var server = ServerEnd()
            server.withheldExtensions = withheld
            let loop = Loopback(messages: [message(to: ["alice@example.onion"], text: text)],
                                finished: true, server: server)
            XCTAssertEqual(loop.server.stored.map(\.message), [Array(text.utf8)], "withheld \(withheld)")
            XCTAssertEqual(loop.reports.first?.isAccepted, true)
            if withheld.contains("CHUNKING") {
                let body = loop.flights.first { $0.hasPrefix("..\r\n") }
                XCTAssertEqual(body?.hasPrefix("..\r\n...\r\n..hidden\r\n"), true, "dot-stuffed")
                let ending = withheld.contains("PIPELINING") ? "\r\n..\r\n.\r\n" : "\r\n..\r\n.\r\nQUIT\r\n"
                XCTAssertEqual(body?.hasSuffix(ending), true, "withheld \(withheld)")
            }
        }
    }

    func testRoundTripsWithDataInsteadOfBDAT() {
        var server = ServerEnd()
        server.withheldExtensions = ["CHUNKING"]
        let loop = Loopback(messages: [message(to: ["alice@example.onion", "bob@example.onion"])],
                            finished: true, server: server)
        XCTAssertEqual(loop.flights, [
            "EHLO client.example.onion\r\n",
            "MAIL FROM:<carol@client.example.onion> SIZE=23\r\n"
                + "RCPT TO:<alice@example.onion>\r\nRCPT TO:<bob@example.onion>\r\nDATA\r\n",
            "Subject: hi\r\n\r\nHello.\r\n.\r\nQUIT\r\n",
        ])
        print("round trips after the greeting (DATA, finish given first): \(loop.clientFlights.count)")
    }

    func testWithoutPipeliningOneCommandPerFlight() {
        var server = ServerEnd()
        server.withheldExtensions = ["PIPELINING"]
        let loop = Loopback(messages: [message(to: ["alice@example.onion", "mallory@elsewhere.test"])],
                            finished: true, server: server)
        XCTAssertEqual(loop.flights, [
            "EHLO client.example.onion\r\n",
            "MAIL FROM:<carol@client.example.onion> SIZE=23\r\n",
            "RCPT TO:<alice@example.onion>\r\n",
            "RCPT TO:<mallory@elsewhere.test>\r\n",
            "BDAT 23 LAST\r\nSubject: hi\r\n\r\nHello.\r\n",
            "QUIT\r\n",
        ])
        XCTAssertEqual(loop.reports.first.map { $0.recipients.map(summary) }, [
            "alice@example.onion: delivered 250 2.0.0",
            "mallory@elsewhere.test: permanent 550 5.7.1",
        ])
    }

    func testSizeOverTheServersLimitIsRefusedBeforeSending() {
        let loop = Loopback(
            messages: [message(to: ["alice@example.onion"], text: String(repeating: "x", count: 198) + "\r\n")],
            finished: true, server: ServerEnd(limits: Limits(maxMessageSize: 199)))
        XCTAssertEqual(loop.reports.first.map { $0.recipients.map(summary) },
                       ["alice@example.onion: permanent 552 5.3.4"])
        XCTAssertEqual(loop.flights, ["EHLO client.example.onion\r\n", "QUIT\r\n"])
        XCTAssertTrue(loop.server.stored.isEmpty)

        // At the limit: sent.
        let atLimit = Loopback(
            messages: [message(to: ["alice@example.onion"], text: String(repeating: "x", count: 197) + "\r\n")],
            finished: true, server: ServerEnd(limits: Limits(maxMessageSize: 199)))
        XCTAssertEqual(atLimit.reports.first?.isAccepted, true)
    }

    func testMailRefusedFailsEveryRecipientWithTheMailReply() {
        // The server hides its limit ("SIZE" without a number), so the
        // client sends and the server refuses MAIL SIZE=; the pipelined RCPTs
        // and BDAT get 503s, and the BDAT octets are read and dropped.
        var server = ServerEnd(limits: Limits(maxMessageSize: 10))
        server.hidesSizeLimit = true
        let loop = Loopback(messages: [
            message("big", to: ["alice@example.onion", "bob@example.onion"]),
            message("small", to: ["alice@example.onion"], text: "x\r\n"),
        ], finished: true, server: server)
        XCTAssertEqual(loop.reports.flatMap { $0.recipients.map(summary) }, [
            "alice@example.onion: permanent 552 5.3.4",
            "bob@example.onion: permanent 552 5.3.4",
            "alice@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertEqual(loop.server.stored.map(\.message), [Array("x\r\n".utf8)], "the next message still goes")
        XCTAssertFalse(loop.flights[2].hasPrefix("RSET"), "no transaction was open")
    }

    func testAllRecipientsRefusedThenTheNextMessageBeginsWithRSET() {
        let loop = Loopback(messages: [
            message("m1", to: ["mallory@elsewhere.test", "nobody@example.onion"]),
            message("m2", to: ["bob@example.onion"]),
        ], finished: true)
        XCTAssertEqual(loop.reports.flatMap { $0.recipients.map(summary) }, [
            "mallory@elsewhere.test: permanent 550 5.7.1",
            "nobody@example.onion: permanent 550 5.1.1",
            "bob@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertNil(loop.reports.first?.messageReply)
        XCTAssertEqual(loop.reports.first?.isAccepted, false)
        XCTAssertEqual(loop.server.stored.count, 1)
        XCTAssertTrue(loop.flights[2].hasPrefix("RSET\r\nMAIL FROM:"), "the open transaction is reset in the same flight")
        XCTAssertEqual(loop.clientFlights.count, 3)
    }

    func testStoreTemporaryFailureIsATemporaryResult() {
        var server = ServerEnd()
        server.storeResults = [.temporaryFailure("Disk full"), .permanentFailure("Quarantined")]
        let loop = Loopback(messages: [
            message("m1", to: ["alice@example.onion", "bob@example.onion"]),
            message("m2", to: ["alice@example.onion"]),
            message("m3", to: ["alice@example.onion"]),
        ], finished: true, server: server)
        XCTAssertEqual(loop.reports.flatMap { $0.recipients.map(summary) }, [
            "alice@example.onion: temporary 451 4.3.0",
            "bob@example.onion: temporary 451 4.3.0",
            "alice@example.onion: permanent 554 5.3.0",
            "alice@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertEqual(loop.reports.first?.messageReply?.lines, ["Disk full"])
        XCTAssertEqual(loop.reports.map(\.isAccepted), [false, false, true])
    }

    func testUTF8AndEightBitMessage() {
        let text = "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße\r\n"
        let loop = Loopback(messages: [message(from: "rené@client.example.onion", to: ["jörg@example.onion"],
                                               text: text)], finished: true)
        XCTAssertEqual(loop.reports.first.map { $0.recipients.map(summary) }, ["jörg@example.onion: delivered 250 2.0.0"])
        XCTAssertEqual(loop.server.stored.first?.envelope.smtpUTF8, true)
        XCTAssertEqual(loop.server.stored.first?.envelope.bodyType, .eightBitMIME)
        XCTAssertEqual(loop.server.stored.first?.message, Array(text.utf8))
        XCTAssertTrue(loop.flights[1].hasPrefix(
            "MAIL FROM:<rené@client.example.onion> SIZE=\(text.utf8.count) BODY=8BITMIME SMTPUTF8\r\n"))
    }

    func testHELOFallbackAgainstTheServerSession() {
        // A server that answers EHLO with 502: HELO, no extension at all, one
        // command at a time, DATA.
        var server = ServerEnd()
        server.refusesExtendedHello = true
        let text = ".leading dot\r\n\r\nbody\r\n"
        let loop = Loopback(messages: [message(to: ["alice@example.onion"], text: text)], finished: true,
                            server: server)
        XCTAssertEqual(loop.flights, [
            "EHLO client.example.onion\r\n",
            "HELO client.example.onion\r\n",
            "MAIL FROM:<carol@client.example.onion>\r\n",
            "RCPT TO:<alice@example.onion>\r\n",
            "DATA\r\n",
            "..leading dot\r\n\r\nbody\r\n.\r\n",
            "QUIT\r\n",
        ])
        XCTAssertEqual(loop.server.stored.map(\.message), [Array(text.utf8)])
        // No ENHANCEDSTATUSCODES after HELO: the code stays in the text.
        XCTAssertEqual(loop.reports.first?.recipients.first?.outcome,
                       .delivered(Reply(code: 250, enhanced: nil, lines: ["2.0.0 Ok: queued as Q1"])))
        XCTAssertEqual(loop.server.stored.first?.envelope.protocolName, "SMTPS")
    }

    // MARK: - Against hand-written replies

    func testServerWithoutPipeliningOrChunking() {
        var script = Script([message(to: ["alice@example.onion", "bob@example.onion"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(script.reply("250-server.example.onion\r\n250-SIZE\r\n250 ENHANCEDSTATUSCODES\r\n"),
                       "MAIL FROM:<carol@client.example.onion> SIZE=23\r\n")
        XCTAssertEqual(script.reply("250 2.1.0 Ok\r\n"), "RCPT TO:<alice@example.onion>\r\n")
        XCTAssertEqual(script.reply("451 4.3.0 Try later\r\n"), "RCPT TO:<bob@example.onion>\r\n")
        XCTAssertEqual(script.reply("250 2.1.5 Ok\r\n"), "DATA\r\n")
        XCTAssertEqual(script.reply("354 Go ahead\r\n"), "Subject: hi\r\n\r\nHello.\r\n.\r\n")
        XCTAssertEqual(script.reply("250 2.0.0 Ok: queued as X\r\n"), "QUIT\r\n")
        XCTAssertEqual(script.summaries, [
            "alice@example.onion: temporary 451 4.3.0",
            "bob@example.onion: delivered 250 2.0.0",
        ])
        XCTAssertEqual(script.timeouts, [300_000, 120_000, 600_000, 300_000],
                       "greeting/EHLO/MAIL/RCPT 5 min, DATA 2 min, end of data 10 min, QUIT")
        XCTAssertEqual(script.reply("221 2.0.0 Bye\r\n"), "")
        XCTAssertTrue(script.closed)
    }

    func testMessagesHeldUntilTheExtensionsAreKnownGoOutInOneFlightWithTheirStamps() {
        // The owner holds its messages, hears the server's POW offers, mints
        // stamps, and enqueues them as the last: one flight, QUIT included.
        var script = Script([], finished: false)
        script.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(script.reply("250-server.example.onion\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
                                    + "250-ENHANCEDSTATUSCODES\r\n250 POW eqh96-5=8 xyz-1=3 hc1=64\r\n"), "")
        XCTAssertEqual(script.announced.map(\.proofOfWork), [[PowRequirement(algorithm: .equihash96x5, effort: 8),
                                                             PowRequirement(algorithm: .hashcash1, effort: 64)]])
        var stamped = message(to: ["alice@example.onion", "bob@example.onion"])
        stamped.stamps = ["1:eqh96-5:8:abc", nil]
        XCTAssertEqual(script.step(.enqueue(stamped, isLast: true)),
                       "MAIL FROM:<carol@client.example.onion>\r\n"
                       + "RCPT TO:<alice@example.onion> POW=1:eqh96-5:8:abc\r\n"
                       + "RCPT TO:<bob@example.onion>\r\n"
                       + "BDAT 23 LAST\r\nSubject: hi\r\n\r\nHello.\r\nQUIT\r\n")
        // A server that offers no POW gets no stamp, even if the message has one.
        var plain = Script([stamped])
        plain.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(plain.reply("250-server.example.onion\r\n250 PIPELINING\r\n"),
                       "MAIL FROM:<carol@client.example.onion>\r\nRCPT TO:<alice@example.onion>\r\n"
                       + "RCPT TO:<bob@example.onion>\r\nDATA\r\n")
        XCTAssertEqual(plain.announced.map(\.proofOfWork), [nil])
    }

    func testEveryRecipientRefusedWithoutPipeliningSendsNoData() {
        var script = Script([message(to: ["alice@example.onion"]), message("m2", to: ["bob@example.onion"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        script.reply("250-server.example.onion\r\n250 ENHANCEDSTATUSCODES\r\n")
        XCTAssertEqual(script.reply("250 2.1.0 Ok\r\n"), "RCPT TO:<alice@example.onion>\r\n")
        XCTAssertEqual(script.reply("550 5.1.1 No\r\n"), "RSET\r\n", "no DATA; the open transaction is reset")
        XCTAssertEqual(script.reply("250 2.0.0 Ok\r\n"), "MAIL FROM:<carol@client.example.onion>\r\n")
        XCTAssertEqual(script.reply("550 5.7.1 Not from you\r\n"), "QUIT\r\n", "MAIL refused: no RCPT")
        XCTAssertEqual(script.summaries, [
            "alice@example.onion: permanent 550 5.1.1",
            "bob@example.onion: permanent 550 5.7.1",
        ])
    }

    func testPipelinedDataWithNoAcceptedRecipientGetsAGoAheadAnyway() {
        // RFC 2920 §3.1: if DATA is accepted anyway, send a single dot.
        var script = Script([message(to: ["alice@example.onion"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(script.reply("250-server.example.onion\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"),
                       "MAIL FROM:<carol@client.example.onion>\r\nRCPT TO:<alice@example.onion>\r\nDATA\r\n")
        XCTAssertEqual(script.reply("250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n354 Go ahead\r\n"), ".\r\nQUIT\r\n")
        XCTAssertEqual(script.reply("250 2.0.0 Ok: nothing\r\n221 2.0.0 Bye\r\n"), "")
        XCTAssertEqual(script.summaries, ["alice@example.onion: permanent 550 5.1.1"])
        XCTAssertTrue(script.closed)

        // The usual case: DATA refused with 554, no text sent.
        var refused = Script([message(to: ["alice@example.onion"])])
        refused.reply("220 server.example.onion ESMTP\r\n")
        refused.reply("250-server.example.onion\r\n250 PIPELINING\r\n")
        XCTAssertEqual(refused.reply("250 Ok\r\n550 No such user\r\n554 No valid recipients\r\n"), "QUIT\r\n")
        XCTAssertEqual(refused.summaries, ["alice@example.onion: permanent 550"])
    }

    func testDataRefusedAfterAcceptedRecipients() {
        var script = Script([message(to: ["alice@example.onion"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        script.reply("250-server.example.onion\r\n250 PIPELINING\r\n")
        XCTAssertEqual(script.reply("250 Ok\r\n250 Ok\r\n451 Try later\r\n"), "QUIT\r\n")
        XCTAssertEqual(script.summaries, ["alice@example.onion: temporary 451"])
    }

    func testHELOOnlyServer() {
        var script = Script([message(to: ["alice@example.onion"])])
        script.reply("220 old.example ESMTP\r\n")
        XCTAssertEqual(script.reply("500 Command unrecognized\r\n"), "HELO client.example.onion\r\n")
        XCTAssertEqual(script.reply("250 old.example\r\n"), "MAIL FROM:<carol@client.example.onion>\r\n")
        script.reply("250 Ok\r\n")
        XCTAssertEqual(script.reply("250 Ok\r\n"), "DATA\r\n")

        // A HELO server cannot take 8-bit or UTF-8 mail: refused unsent.
        var eightBit = Script([message(to: ["alice@example.onion"], text: "Subject: é\r\n\r\n"),
                               message("m2", to: ["jörg@example.onion"])])
        eightBit.reply("220 old.example\r\n")
        eightBit.reply("502 Not implemented\r\n")
        XCTAssertEqual(eightBit.reply("250 old.example\r\n"), "QUIT\r\n")
        XCTAssertEqual(eightBit.summaries, ["alice@example.onion: permanent 554 5.6.3",
                                            "jörg@example.onion: permanent 554 5.6.7"])

        // EHLO refused otherwise (not 500/502): no HELO, every message fails.
        var refused = Script([message(to: ["alice@example.onion"])])
        refused.reply("220 old.example\r\n")
        XCTAssertEqual(refused.reply("554 5.7.1 Go away\r\n"), "QUIT\r\n")
        XCTAssertEqual(refused.summaries, ["alice@example.onion: permanent 554"])
    }

    func testGreetingRefusals() {
        var busy = Script([message(to: ["alice@example.onion"]), message("m2", to: ["bob@example.onion"])])
        XCTAssertEqual(busy.reply("421 4.3.2 Too busy, closing connection\r\n"), "", "no QUIT after 421")
        XCTAssertTrue(busy.closed)
        XCTAssertEqual(busy.summaries, ["alice@example.onion: temporary 421", "bob@example.onion: temporary 421"])

        var refused = Script([message(to: ["alice@example.onion"])], finished: false)
        XCTAssertEqual(refused.reply("554-No SMTP service here\r\n554 Go away\r\n"), "QUIT\r\n")
        XCTAssertEqual(refused.summaries, ["alice@example.onion: permanent 554"])
        XCTAssertEqual(refused.reports.first?.recipients.first?.outcome.reply.lines, ["No SMTP service here", "Go away"])
        XCTAssertFalse(refused.closed)
        refused.step(.closed)
        XCTAssertTrue(refused.closed)
        // Given later: reported at once, not sent.
        refused.step(.enqueue(message("late", to: ["alice@example.onion"])))
        XCTAssertEqual(refused.reports.last?.identifier, "late")
        XCTAssertEqual(refused.reports.last?.recipients.first?.outcome, .temporaryFailure(.clientSessionEnded))
    }

    func testMultiLineRepliesAndEnhancedCodes() {
        var script = Script([message(to: ["alice@example.onion", "bob@example.onion"])])
        XCTAssertEqual(script.reply("220-server.example.onion ESMTP\r\n220-Welcome\r\n220 Really\r\n"),
                       "EHLO client.example.onion\r\n")
        let flight = script.reply("250-server.example.onion greets you\r\n250-pipelining\r\n250-Size 1000\r\n"
                                  + "250-chunking\r\n250-AUTH=LOGIN\r\n250-8bitmime\r\n250 enhancedstatuscodes\r\n")
        XCTAssertTrue(flight.hasPrefix("MAIL FROM:<carol@client.example.onion> SIZE=23\r\n"))
        XCTAssertTrue(flight.hasSuffix("Hello.\r\nQUIT\r\n"))
        var expected = ClientExtensions()
        expected.pipelining = true
        expected.chunking = true
        expected.size = true
        expected.maxMessageSize = 1000
        expected.eightBitMIME = true
        expected.enhancedStatusCodes = true
        XCTAssertEqual(script.client.serverExtensions, expected)
        script.reply("250 2.1.0 Ok\r\n")
        script.reply("550-5.1.1 No such user here\r\n550-5.1.1 Second line\r\n550 5.1.1 Really\r\n")
        script.reply("250 2.1.5 Ok\r\n")
        XCTAssertEqual(script.reply("250-2.0.0 Ok\r\n250 2.0.0 queued as ABC\r\n"), "")
        XCTAssertEqual(script.reports.first?.recipients.map(\.outcome), [
            .permanentFailure(Reply(code: 550, enhanced: EnhancedStatusCode(5, 1, 1),
                                    lines: ["No such user here", "Second line", "Really"])),
            .delivered(Reply(code: 250, enhanced: EnhancedStatusCode(2, 0, 0), lines: ["Ok", "queued as ABC"])),
        ])
    }

    func testMalformedRepliesAreProtocolErrors() {
        let malformed: [(name: String, reply: String)] = [
            ("letter in the code", "25O Ok\r\n"),
            ("short", "25\r\n"),
            ("no separator", "250Ok\r\n"),
            ("class 1", "150 Ok\r\n"),
            ("class 6", "650 Ok\r\n"),
            ("second digit 6", "260 Ok\r\n"),
            ("code changes between lines", "250-Ok\r\n251 Ok\r\n"),
            ("3yz to MAIL", "354 Go ahead\r\n"),
            ("over-long line", "250 " + String(repeating: "x", count: 507) + "\r\n"),
        ]
        for (name, reply) in malformed {
            var script = Script([message(to: ["alice@example.onion"]), message("m2", to: ["bob@example.onion"])])
            script.reply("220 server.example.onion ESMTP\r\n")
            script.reply(fullEHLO)
            XCTAssertEqual(script.reply(reply), "", name)
            XCTAssertTrue(script.closed, name)
            XCTAssertEqual(script.summaries, ["alice@example.onion: temporary 451 4.5.0",
                                              "bob@example.onion: temporary 451 4.5.0"], name)
        }

        // A reply when none is owed.
        var script = Script([message(to: ["alice@example.onion"])], finished: false)
        script.reply("220 server.example.onion ESMTP\r\n")
        script.reply(fullEHLO)
        script.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n")
        XCTAssertEqual(script.summaries, ["alice@example.onion: delivered 250 2.0.0"])
        XCTAssertFalse(script.closed)
        XCTAssertEqual(script.reply("250 Extra\r\n"), "")
        XCTAssertTrue(script.closed)
    }

    func testReplyLineLengthLimit() {
        // 512 octets with CRLF is the most (RFC 5321 §4.5.3.1.5); one more is
        // a protocol error. The CR is optional.
        var parser = ClientReplyParser(limits: ClientLimits())
        let longest = "250 " + String(repeating: "x", count: 506)
        XCTAssertEqual(try parser.take(Array((longest + "\r").utf8))?.lines.first?.utf8.count, 506)
        XCTAssertEqual(try parser.take(Array(longest.utf8))?.code, 250)
        XCTAssertThrowsError(try parser.take(Array((longest + "x\r").utf8))) { error in
            XCTAssertEqual(error as? ClientReplyError, .lineTooLong)
        }
        var script = Script([message(to: ["alice@example.onion"])])
        script.step(.lineTooLong)
        XCTAssertTrue(script.closed)
        XCTAssertEqual(script.summaries, ["alice@example.onion: temporary 451 4.5.0"])
    }

    func testReplyLineCountLimit() {
        var parser = ClientReplyParser(limits: ClientLimits(maxReplyLines: 3))
        XCTAssertNil(try parser.take(Array("250-a".utf8)))
        XCTAssertNil(try parser.take(Array("250-b".utf8)))
        XCTAssertNil(try parser.take(Array("250-c".utf8)))
        XCTAssertThrowsError(try parser.take(Array("250 d".utf8))) { error in
            XCTAssertEqual(error as? ClientReplyError, .tooManyLines)
        }
        var fits = ClientReplyParser(limits: ClientLimits(maxReplyLines: 3))
        XCTAssertNil(try fits.take(Array("250-a".utf8)))
        XCTAssertNil(try fits.take(Array("250-b".utf8)))
        XCTAssertEqual(try fits.take(Array("250 c".utf8))?.lines, ["a", "b", "c"])
    }

    func testReplyParserTable() throws {
        let valid: [(line: String, code: UInt16, text: String)] = [
            ("250", 250, ""),
            ("250 ", 250, ""),
            ("220 host ESMTP\r", 220, "host ESMTP"),
            ("554 5.7.1 No\tway", 554, "5.7.1 No way"),
            ("250 caf\u{E9}", 250, "café"),
            ("559 x", 559, "x"),
        ]
        for entry in valid {
            var parser = ClientReplyParser(limits: ClientLimits())
            let reply = try parser.take(Array(entry.line.utf8))
            XCTAssertEqual(reply, Reply(code: entry.code, enhanced: nil, lines: [entry.text]), entry.line)
        }
        var parser = ClientReplyParser(limits: ClientLimits())
        XCTAssertEqual(try parser.take([0x32, 0x35, 0x30, 0x20, 0x61, 0x00, 0x0D, 0x62])?.lines, ["a  b"],
                       "control characters become spaces")
        for line in ["", "2", "25", "1xx", "250x", "-250", "2500 x", " 250 x", "250\t", "25 0", "599 x", "260 x", "600 x", "150 x"] {
            var parser = ClientReplyParser(limits: ClientLimits())
            XCTAssertThrowsError(try parser.take(Array(line.utf8)), line)
        }
        var continuation = ClientReplyParser(limits: ClientLimits())
        XCTAssertNil(try continuation.take(Array("250-".utf8)), "a continuation line without text")
        XCTAssertTrue(continuation.isInsideReply)
        XCTAssertEqual(try continuation.take(Array("250 b".utf8))?.lines, ["", "b"])
    }

    func testEnhancedCodeExtraction() {
        let cases: [(lines: [String], code: UInt16, enhanced: EnhancedStatusCode?, text: [String])] = [
            (["2.1.0 Ok"], 250, EnhancedStatusCode(2, 1, 0), ["Ok"]),
            (["5.7.1"], 550, EnhancedStatusCode(5, 7, 1), [""]),
            (["4.4.2 a", "4.4.2 b", "c"], 451, EnhancedStatusCode(4, 4, 2), ["a", "b", "c"]),
            (["5.1.1 Wrong class"], 250, nil, ["5.1.1 Wrong class"]),
            (["2.1000.0 Too many digits"], 250, nil, ["2.1000.0 Too many digits"]),
            (["2.1.0Ok"], 250, nil, ["2.1.0Ok"]),
            (["3.1.0 No class 3"], 354, nil, ["3.1.0 No class 3"]),
            (["Ok"], 250, nil, ["Ok"]),
        ]
        for entry in cases {
            let reply = ClientReplyParser.withEnhancedCode(Reply(code: entry.code, enhanced: nil, lines: entry.lines))
            XCTAssertEqual(reply, Reply(code: entry.code, enhanced: entry.enhanced, lines: entry.text), "\(entry.lines)")
        }
    }

    func testNoSMTPUTF8OnTheServerRefusesAUTF8RecipientUnsent() {
        var script = Script([message(to: ["jörg@example.onion"]), message("m2", to: ["alice@example.onion"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        let sent = script.reply("250-server.example.onion\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 CHUNKING\r\n")
        XCTAssertEqual(sent, "MAIL FROM:<carol@client.example.onion>\r\nRCPT TO:<alice@example.onion>\r\n"
                       + "BDAT 23 LAST\r\nSubject: hi\r\n\r\nHello.\r\nQUIT\r\n", "only the second message goes")
        XCTAssertEqual(script.reports.first?.recipients.first?.outcome, .permanentFailure(.clientSMTPUTF8NotOffered))
        XCTAssertEqual(script.summaries.first, "jörg@example.onion: permanent 554 5.6.7")
    }

    func testTimeoutMidData() {
        var script = Script([message(to: ["alice@example.onion", "mallory@elsewhere.test"])])
        script.reply("220 server.example.onion ESMTP\r\n")
        script.reply("250-server.example.onion\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
        XCTAssertEqual(script.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.7.1 No relay\r\n354 Go\r\n"),
                       "Subject: hi\r\n\r\nHello.\r\n.\r\nQUIT\r\n")
        XCTAssertEqual(script.timeouts.last, 600_000)
        XCTAssertEqual(script.step(.timeout), "")
        XCTAssertTrue(script.closed)
        XCTAssertEqual(script.summaries, [
            "alice@example.onion: temporary 451 4.4.2",
            "mallory@elsewhere.test: permanent 550 5.7.1",
        ])
        XCTAssertEqual(script.step(.line(Array("250 late".utf8))), "", "nothing after the end")
        XCTAssertEqual(script.reports.count, 1)
    }

    func testConnectionClosedMidTransactionAnd421() {
        var closed = Script([message(to: ["alice@example.onion"]), message("m2", to: ["bob@example.onion"])])
        closed.reply("220 server.example.onion ESMTP\r\n")
        closed.reply(fullEHLO)
        closed.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
        closed.step(.closed)
        XCTAssertTrue(closed.closed)
        XCTAssertEqual(closed.summaries, ["alice@example.onion: temporary 451 4.4.2",
                                          "bob@example.onion: temporary 451 4.4.2"])

        var shutdown = Script([message(to: ["alice@example.onion", "bob@example.onion"])])
        shutdown.reply("220 server.example.onion ESMTP\r\n")
        shutdown.reply(fullEHLO)
        XCTAssertEqual(shutdown.reply("250 2.1.0 Ok\r\n550 5.1.1 No\r\n421 4.3.2 Shutting down\r\n"), "")
        XCTAssertTrue(shutdown.closed)
        XCTAssertEqual(shutdown.summaries, ["alice@example.onion: permanent 550 5.1.1",
                                            "bob@example.onion: temporary 421 4.3.2"])
    }

    func testTimeoutsBeforeAndAfterTheTransaction() {
        var greeting = Script([message(to: ["alice@example.onion"])])
        XCTAssertEqual(greeting.timeouts, [300_000])
        greeting.step(.timeout)
        XCTAssertTrue(greeting.closed)
        XCTAssertEqual(greeting.summaries, ["alice@example.onion: temporary 451 4.4.2"])

        // Idle (nothing owed) and the owner is silent: QUIT politely.
        var idle = Script([], finished: false)
        idle.reply("220 server.example.onion ESMTP\r\n")
        idle.reply(fullEHLO)
        XCTAssertEqual(idle.step(.timeout), "QUIT\r\n")
        idle.step(.timeout)
        XCTAssertTrue(idle.closed)
    }

    func testEightBitWithoutEightBitMIMEIsRefusedUnsent() {
        var script = Script([message(to: ["alice@example.onion"], text: "Subject: x\r\n\r\nna\u{EF}ve\r\n")])
        script.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(script.reply("250-server.example.onion\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), "QUIT\r\n")
        XCTAssertEqual(script.summaries, ["alice@example.onion: permanent 554 5.6.3"])
    }

    func testUnsendableAddressesNeverReachTheWire() {
        let injected = Mailbox(localPart: "a\r\nRCPT TO:<evil@x.test>", domain: "example.onion")
        let long = Mailbox(localPart: String(repeating: "l", count: 65), domain: "example.onion")
        var script = Script([
            ClientMessage(identifier: "m1", reversePath: mailbox("carol@client.example.onion"),
                          recipients: [injected, mailbox("alice@example.onion"), long],
                          content: Array("x\r\n".utf8)),
            ClientMessage(identifier: "m2", reversePath: injected, recipients: [mailbox("alice@example.onion")],
                          content: Array("x\r\n".utf8)),
            ClientMessage(identifier: "m3", reversePath: nil, recipients: [long], content: Array("x\r\n".utf8)),
        ])
        script.reply("220 server.example.onion ESMTP\r\n")
        XCTAssertEqual(script.reply(fullEHLO), "MAIL FROM:<carol@client.example.onion> SIZE=3\r\n"
                       + "RCPT TO:<alice@example.onion>\r\nBDAT 3 LAST\r\nx\r\n")
        XCTAssertEqual(script.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n"), "QUIT\r\n")
        XCTAssertEqual(script.summaries, [
            "\"a\r\nRCPT TO:<evil@x.test>\"@example.onion: permanent 553 5.1.3",
            "alice@example.onion: delivered 250 2.0.0",
            "\(long.text): permanent 553 5.1.3",
            "alice@example.onion: permanent 553 5.1.7",
            "\(long.text): permanent 553 5.1.3",
        ])
    }

    func testEnqueueAfterFinishIsReportedUnsent() {
        var script = Script([], finished: true)
        script.step(.enqueue(message("late", to: ["alice@example.onion"])))
        XCTAssertEqual(script.reports.first?.recipients.first?.outcome, .temporaryFailure(.clientSessionEnded))
        XCTAssertEqual(script.reply("220 server.example.onion ESMTP\r\n"), "EHLO client.example.onion\r\n")
        XCTAssertEqual(script.reply(fullEHLO), "QUIT\r\n")
    }

    func testMessageTextIsSentWithCRLFLineEnds() {
        let prepared = ClientMessage(identifier: "m", reversePath: nil, recipients: [],
                                     content: Array("a\nb\rc\r\n.d".utf8)).prepared()
        XCTAssertEqual(String(decoding: prepared.content, as: UTF8.self), "a\r\nb\r\nc\r\n.d\r\n")
        XCTAssertEqual(String(decoding: prepared.dotStuffed(), as: UTF8.self), "a\r\nb\r\nc\r\n..d\r\n.\r\n")
        let empty = ClientMessage(identifier: "m", reversePath: nil, recipients: [], content: []).prepared()
        XCTAssertEqual(empty.content, [])
        XCTAssertEqual(String(decoding: empty.dotStuffed(), as: UTF8.self), ".\r\n")
        XCTAssertFalse(prepared.hasEightBitContent)
    }

    func testExtensionKeywords() {
        let cases: [(lines: [String], check: (ClientExtensions) -> Bool)] = [
            (["h", "SIZE"], { $0.size && $0.maxMessageSize == nil }),
            (["h", "SIZE 0"], { $0.size && $0.maxMessageSize == nil }),
            (["h", "size 12345"], { $0.size && $0.maxMessageSize == 12345 }),
            (["h", "SIZE 99999999999999999999999"], { $0.size && $0.maxMessageSize == nil }),
            (["h", "SIZE abc"], { $0.size && $0.maxMessageSize == nil }),
            (["PIPELINING", "x"], { !$0.pipelining }),  // the first line names the server
            (["h", "PIPELININGX", "CHUNKING-"], { !$0.pipelining && !$0.chunking }),
            (["h", "SmtpUtf8"], { $0.smtpUTF8 }),
        ]
        for entry in cases {
            let extensions = ClientExtensions(extendedHelloReply: Reply(code: 250, enhanced: nil, lines: entry.lines))
            XCTAssertTrue(entry.check(extensions), "\(entry.lines)")
        }
    }

    func testAnyServerBehaviourReportsEveryMessageExactlyOnce() {
        // Replies drawn at random from plausible and broken ones, with
        // timeouts, closes and owner inputs between them: the session never
        // traps, reports each message once, and ends.
        let vocabulary = [
            "220 h ESMTP", "250 Ok", "250-h", "250-PIPELINING", "250-CHUNKING", "250 SIZE 100", "250 8BITMIME",
            "354 Go", "421 4.3.2 Bye", "450 4.2.0 Busy", "550 5.1.1 No", "503 5.5.1 Sequence", "221 Bye",
            "502 No", "500 What", "25", "250-", "999 x", "2.0.0", "", "250 2.0.0 Ok\u{0}\r\r",
        ]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<2000 {
            var given = 2
            var client = ClientSession(configuration: ClientConfiguration(heloName: "c.example.onion"), messages: [
                message("m0", to: ["alice@example.onion", "bob@example.onion"]),
                message("m1", to: ["jörg@example.onion"], text: "\u{E9}\r\n"),
            ])
            var reported: [String] = []
            var closed = false
            func apply(_ effects: [ClientEffect]) {
                for effect in effects {
                    switch effect {
                    case .finished(let report):
                        reported.append(report.identifier)
                    case .close:
                        closed = true
                    case .send, .setReadTimeout, .extensionsAnnounced:
                        break
                    }
                }
            }
            apply(client.receive(.ready))
            for _ in 0..<40 where !closed {
                switch next(20) {
                case 0:
                    apply(client.receive(.timeout))
                case 1:
                    apply(client.receive(.finish))
                case 2:
                    apply(client.receive(.enqueue(message("m\(given)", to: ["alice@example.onion"]))))
                    given += 1
                case 3:
                    apply(client.receive(.lineTooLong))
                default:
                    apply(client.receive(.line(Array(vocabulary[next(vocabulary.count)].utf8))))
                }
            }
            apply(client.receive(.closed))
            XCTAssertTrue(closed && client.isClosed)
            XCTAssertEqual(reported.sorted(), (0..<given).map { "m\($0)" }.sorted())
            if reported.sorted() != (0..<given).map({ "m\($0)" }).sorted() {
                return
            }
        }
    }
}
