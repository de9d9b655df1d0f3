// ClientSession.swift — the ESMTP client session: a pure state machine that
// sends a queue of messages to one server and reports, per recipient, what
// became of each. No I/O, no clock: the adapter feeds it inputs (connection
// up, reply lines, timeouts, messages) and carries out the effects it
// returns.
//
// Every Tor round trip costs hundreds of milliseconds, so the session sends
// as much as each exchange allows without waiting: with PIPELINING and
// CHUNKING a whole transaction (MAIL, every RCPT, BDAT LAST and the message)
// is one write, and QUIT joins the last one when the owner has said there is
// nothing more to send.
//
// Untrusted input: every reply line the server sends. Replies are parsed
// strictly (ClientReplyParser); a malformed, over-long, unexpected or
// unsolicited reply ends the session with the undecided recipients failed
// temporarily, so that nothing the server sends can make the client report a
// delivery that did not happen, crash, or hold unbounded input.
// RFCs: RFC 5321 (SMTP: §3.3 transactions, §4.1.1 commands, §4.2 replies,
// §4.5.2 transparency, §4.5.3.2 timeouts), RFC 2920 (PIPELINING), RFC 3030
// (CHUNKING/BDAT), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531
// (SMTPUTF8), RFC 2034 / RFC 3463 (enhanced status codes).

/// What a client session needs to know about its node.
public struct ClientConfiguration: Equatable, Sendable {
    /// The name given with EHLO/HELO: the node's own onion name. Never the
    /// machine's host name, which would tell the server where the node runs.
    public var heloName: String
    /// The limits applied to the server.
    public var limits: ClientLimits
    /// Send EHLO at once when the connection is ready, in the same flight
    /// as the client's TLS Finished, instead of waiting for the greeting:
    /// the greeting and the EHLO reply then come back together, saving a
    /// round trip, which costs hundreds of milliseconds over Tor. Only for
    /// SMTorP servers (docs/spec.md §4.8 requires them to accept it); a
    /// classic server may treat an early talker as a spammer.
    public var earlyHello: Bool

    /// Creates a configuration.
    public init(heloName: String, limits: ClientLimits = ClientLimits(), earlyHello: Bool = false) {
        self.heloName = heloName
        self.limits = limits
        self.earlyHello = earlyHello
    }
}

/// An input to the client session.
public enum ClientInput: Equatable, Sendable {
    /// The connection is up: TCP and TLS done, the server's certificate
    /// checked. The session now waits for the greeting.
    case ready
    /// One reply line WITHOUT its LF; a CR before the LF may be kept.
    case line([UInt8])
    /// No LF came within `ClientLimits.replyLineLength` octets (a protocol
    /// error; the adapter need not read further).
    case lineTooLong
    /// The read timeout expired.
    case timeout
    /// The connection was closed (by the server, or lost).
    case closed
    /// One more message to send on this connection; `isLast` finishes at
    /// the same time (as `.finish` after it, but QUIT can join the
    /// message's flight).
    case enqueue(ClientMessage, isLast: Bool = false)
    /// No more messages: the session sends QUIT once the queue is empty.
    case finish
}

/// An effect the adapter carries out, in order.
public enum ClientEffect: Equatable, Sendable {
    /// Write these bytes. One effect is one flight: everything in it is sent
    /// without waiting for a reply (several commands when pipelining).
    case send([UInt8])
    /// Use this read timeout from now on for each wait for a reply line,
    /// counted from when everything sent so far has been written.
    case setReadTimeout(milliseconds: UInt64)
    /// What became of one message; every message given is reported once.
    case finished(DeliveryReport)
    /// The server's EHLO (or HELO) reply was accepted: these are its
    /// extensions. Emitted once, before any transaction begins, so that an
    /// owner that holds its messages back can prepare them for this server
    /// (mint proof-of-work stamps for the offers of its `POW` keyword) and
    /// then enqueue them.
    case extensionsAnnounced(ClientExtensions)
    /// Close the connection after flushing what was sent.
    case close
}

/// The client side of one ESMTP session, delivering a queue of messages to
/// one server.
///
/// Feed every input to `receive(_:)` and carry out the returned effects in
/// order. The session never performs I/O and never reads a clock.
public struct ClientSession {
    /// A reply the server owes, in the order the commands were sent.
    private enum Awaited: Equatable {
        case reset
        case mail
        /// The reply to RCPT for the recipient at this index.
        case recipient(Int)
        /// The 354 to DATA.
        case dataGoAhead
        /// The reply to the end of the message: "." after DATA, or
        /// `BDAT <n> LAST` with its octets.
        case messageEnd
    }

    /// One mail transaction: what was sent, what came back.
    private struct Transaction {
        let message: ClientMessage.Prepared
        /// The outcome of each recipient, once decided.
        var outcomes: [RecipientOutcome?]
        /// Whether each recipient was accepted at RCPT.
        var accepted: [Bool]
        /// Replies owed by the server for this transaction, oldest first.
        var pending: [Awaited] = []
        /// Whether RSET goes first (the previous transaction may be open).
        let needsReset: Bool
        var resetSent = false
        var mailSent = false
        /// The MAIL outcome, once its reply came.
        var mailAccepted: Bool?
        /// The index of the next recipient to send RCPT for.
        var nextRecipient = 0
        /// Whether DATA or BDAT was sent.
        var dataSent = false
        /// Whether DATA was answered with 354.
        var goAheadReceived = false
        /// Whether the message text (BDAT's, or the text after 354) was sent.
        var textSent = false
        /// Whether 354 came with no accepted recipient and only "." was sent
        /// (RFC 2920 §3.1).
        var sentOnlyEndOfData = false
        /// The reply to the end of the message, for a message sent to at
        /// least one accepted recipient.
        var messageReply: Reply?

        init(message: ClientMessage.Prepared, needsReset: Bool) {
            self.message = message
            self.needsReset = needsReset
            // A recipient that cannot be written as a path is refused here
            // and never sent.
            outcomes = message.forwardPaths.map { $0 == nil ? .permanentFailure(.clientBadRecipient) : nil }
            accepted = message.forwardPaths.map { _ in false }
        }

        /// The next command (or message text) to send, its verb (nil for
        /// the text after 354) and the reply it is owed, or nil when nothing
        /// more is to be sent now.
        ///
        /// Before replies are in (pipelining), it goes ahead as if MAIL and
        /// some RCPT will succeed; once they are in, it stops as soon as the
        /// transaction cannot succeed.
        mutating func nextCommand(
            extensions: ClientExtensions
        ) -> (bytes: [UInt8], verb: Verb?, awaited: Awaited)? {
            if needsReset && !resetSent {
                resetSent = true
                return (ClientSession.line("RSET"), .reset, .reset)
            }
            if !mailSent {
                mailSent = true
                return (mailCommand(extensions: extensions), .mail, .mail)
            }
            if mailAccepted == false {
                return nil
            }
            while nextRecipient < message.forwardPaths.count {
                let index = nextRecipient
                nextRecipient += 1
                if let path = message.forwardPaths[index] {
                    var command = path
                    if extensions.proofOfWork != nil, let stamp = message.stampParameters[index] {
                        command.append(contentsOf: stamp)  // docs/spec.md §5.5
                    }
                    return (ClientSession.line("RCPT TO:", command), .recipient, .recipient(index))
                }
            }
            if !dataSent {
                let mayHaveRecipient = accepted.contains(true) || pending.contains { awaited in
                    if case .recipient = awaited {
                        return true
                    }
                    return false
                }
                guard mayHaveRecipient else {
                    return nil
                }
                dataSent = true
                if extensions.chunking {
                    // One chunk, the whole message (RFC 3030 §2): the octets
                    // follow the command at once, even unpipelined.
                    textSent = true
                    var bytes = ClientSession.line("BDAT \(message.size) LAST")
                    bytes.append(contentsOf: message.content)
                    return (bytes, .binaryData, .messageEnd)
                }
                return (ClientSession.line("DATA"), .data, .dataGoAhead)
            }
            if goAheadReceived && !textSent {
                textSent = true
                guard mailAccepted == true, accepted.contains(true) else {
                    // RFC 2920 §3.1: "if the DATA command was accepted the
                    // client SMTP should send a single dot".
                    sentOnlyEndOfData = true
                    return ([0x2E, 0x0D, 0x0A], nil, .messageEnd)
                }
                return (message.dotStuffed(), nil, .messageEnd)
            }
            return nil
        }

        /// `MAIL FROM:<path>` with the parameters the message needs and the
        /// server offers (the session checked beforehand that it offers
        /// every one the message needs).
        private func mailCommand(extensions: ClientExtensions) -> [UInt8] {
            var bytes = Array("MAIL FROM:".utf8)
            bytes.append(contentsOf: message.reversePath ?? [0x3C, 0x3E])
            if extensions.size {
                bytes.append(contentsOf: " SIZE=\(message.size)".utf8)  // RFC 1870
            }
            if message.hasEightBitContent {
                bytes.append(contentsOf: " BODY=8BITMIME".utf8)  // RFC 6152
            }
            if message.requiresSMTPUTF8 {
                bytes.append(contentsOf: " SMTPUTF8".utf8)  // RFC 6531
            }
            bytes.append(contentsOf: [0x0D, 0x0A])
            return bytes
        }

        /// Takes the reply owed for `awaited`. Returns false when the reply
        /// makes no sense there (a protocol error).
        mutating func take(_ reply: Reply, for awaited: Awaited) -> Bool {
            let replyClass = reply.code / 100
            switch awaited {
            case .reset:
                // A refused RSET decides nothing: the MAIL reply does.
                return replyClass != 3
            case .mail:
                switch replyClass {
                case 2:
                    mailAccepted = true
                case 4, 5:
                    // Every recipient fails with the MAIL reply; the replies
                    // to the RCPTs and BDAT/DATA pipelined after it (503)
                    // are then ignored.
                    mailAccepted = false
                    decideUndecided(.failure(reply))
                default:
                    return false
                }
            case .recipient(let index):
                guard mailAccepted == true else {
                    return replyClass != 3
                }
                switch replyClass {
                case 2:
                    accepted[index] = true
                case 4, 5:
                    outcomes[index] = .failure(reply)
                default:
                    return false
                }
            case .dataGoAhead:
                if reply.code == 354 {
                    goAheadReceived = true
                    return true
                }
                switch replyClass {
                case 4, 5:
                    // The accepted recipients fail with the DATA reply; if
                    // there were none, this is the 503/554 RFC 5321 §4.1.1.4
                    // and RFC 2920 §3.1 expect.
                    decideUndecided(.failure(reply))
                default:
                    return false
                }
            case .messageEnd:
                guard !sentOnlyEndOfData, mailAccepted == true, accepted.contains(true) else {
                    // The text went to nobody (RFC 3030 §2: the server reads
                    // and refuses a BDAT after failed RCPTs).
                    return replyClass != 3
                }
                switch replyClass {
                case 2:
                    messageReply = reply
                    decideUndecided(.delivered(reply))
                case 4, 5:
                    messageReply = reply
                    decideUndecided(.failure(reply))
                default:
                    return false
                }
            }
            return true
        }

        /// Gives every recipient without an outcome this one.
        mutating func decideUndecided(_ outcome: RecipientOutcome) {
            for index in outcomes.indices where outcomes[index] == nil {
                outcomes[index] = outcome
            }
        }

        /// Whether the server may still hold the transaction open after it
        /// ended (MAIL accepted, and no 2yz to the end of the message).
        var mayLeaveTransactionOpen: Bool {
            mailAccepted == true && messageReply.map { $0.code / 100 != 2 } ?? true
        }

        /// The report; a recipient still undecided gets `undecided`.
        func report(undecided: RecipientOutcome) -> DeliveryReport {
            var results: [RecipientResult] = []
            for index in message.recipients.indices {
                results.append(RecipientResult(
                    recipient: message.recipients[index], outcome: outcomes[index] ?? undecided))
            }
            return DeliveryReport(identifier: message.identifier, recipients: results, messageReply: messageReply)
        }
    }

    /// The session states, named for what each waits for.
    private enum State {
        case awaitingConnection
        case awaitingGreeting
        /// EHLO (true) or HELO (false) was sent.
        case awaitingHelloReply(isExtended: Bool)
        /// EHLO was sent before the greeting (`earlyHello`): the greeting,
        /// then the EHLO reply, are owed.
        case awaitingGreetingThenHelloReply
        /// Greeted, no transaction: waits for `.enqueue` or `.finish`.
        case awaitingMessage
        case awaitingTransactionReplies(Transaction)
        case awaitingQuitReply
        case closed
    }

    private let configuration: ClientConfiguration
    private var state: State = .awaitingConnection
    /// Messages not yet begun, oldest first.
    private var queue: [ClientMessage.Prepared]
    /// Whether the owner said `.finish` (or the session is ending): no more
    /// messages are taken.
    private var isFinishing = false
    private var quitSent = false
    private var extensions = ClientExtensions()
    private var parser: ClientReplyParser
    /// Whether the previous transaction may be open at the server, so that
    /// the next begins with RSET.
    private var needsReset = false
    /// The read timeout last asked for.
    private var readTimeout: UInt64?

    private var limits: ClientLimits {
        configuration.limits
    }

    /// Creates a session that waits for `.ready`, with `messages` queued.
    ///
    /// `configuration.heloName` must be a domain (the node's onion name).
    public init(configuration: ClientConfiguration, messages: [ClientMessage] = []) {
        precondition(
            Path.helloDomain(Array(configuration.heloName.utf8)[...], maxLength: 255) != nil,
            "the EHLO name must be a domain")
        self.configuration = configuration
        self.queue = messages.map { $0.prepared() }
        self.parser = ClientReplyParser(limits: configuration.limits)
    }

    /// Whether the session has ended; every further input returns no effects
    /// (a message enqueued is reported as not sent).
    public var isClosed: Bool {
        if case .closed = state {
            return true
        }
        return false
    }

    /// The extensions the server announced: none before its EHLO reply, or
    /// after HELO.
    public var serverExtensions: ClientExtensions {
        extensions
    }

    /// Processes one input and returns the effects to carry out, in order.
    public mutating func receive(_ input: ClientInput) -> [ClientEffect] {
        var effects: [ClientEffect] = []
        switch input {
        case .ready:
            guard case .awaitingConnection = state else {
                return []
            }
            if configuration.earlyHello {
                effects.append(.send(ClientSession.line("EHLO " + configuration.heloName)))
                state = .awaitingGreetingThenHelloReply
            } else {
                state = .awaitingGreeting
            }
            setReadTimeout(limits.greetingTimeoutMilliseconds, into: &effects)
        case .line(let line):
            take(line, into: &effects)
        case .lineTooLong:
            protocolError(into: &effects)
        case .timeout:
            timedOut(into: &effects)
        case .closed:
            end(with: .clientConnectionLost, sendingQuit: false, into: &effects)
        case .enqueue(let message, let isLast):
            enqueue(message, isLast: isLast, into: &effects)
        case .finish:
            finish(into: &effects)
        }
        return effects
    }

    // MARK: - Inputs

    private mutating func take(_ line: [UInt8], into effects: inout [ClientEffect]) {
        switch state {
        case .awaitingConnection, .closed:
            return  // nothing can arrive before the connection or after the end
        case .awaitingGreeting, .awaitingGreetingThenHelloReply, .awaitingHelloReply, .awaitingMessage,
             .awaitingTransactionReplies, .awaitingQuitReply:
            break
        }
        let reply: Reply?
        do throws(ClientReplyError) {
            reply = try parser.take(line)
        } catch {
            protocolError(into: &effects)
            return
        }
        if let reply {
            handle(reply, into: &effects)
        }
    }

    private mutating func handle(_ reply: Reply, into effects: inout [ClientEffect]) {
        switch state {
        case .awaitingConnection, .closed:
            return
        case .awaitingGreeting:
            // RFC 5321 §3.1, §4.3.2: 220 or 554 (or 421) to the connection.
            if reply.code == 220 {
                sendHello(isExtended: true, into: &effects)
            } else {
                refuseSession(reply, into: &effects)
            }
        case .awaitingGreetingThenHelloReply:
            if reply.code == 220 {
                state = .awaitingHelloReply(isExtended: true)
                setReadTimeout(limits.mailTimeoutMilliseconds, into: &effects)
            } else {
                refuseSession(reply, into: &effects)
            }
        case .awaitingHelloReply(let isExtended):
            if reply.code / 100 == 2 {
                extensions = isExtended ? ClientExtensions(extendedHelloReply: reply) : ClientExtensions()
                effects.append(.extensionsAnnounced(extensions))
                startNextTransaction(into: &effects)
            } else if isExtended && (reply.code == 500 || reply.code == 502) {
                // EHLO not understood: HELO, and no extension at all
                // (RFC 5321 §3.2, §4.1.4).
                sendHello(isExtended: false, into: &effects)
            } else {
                refuseSession(reply, into: &effects)
            }
        case .awaitingMessage:
            // Nothing is owed; only a 421 may come unasked (RFC 5321 §3.8).
            if reply.code == 421 {
                end(with: reply, sendingQuit: false, into: &effects)
            } else {
                protocolError(into: &effects)
            }
        case .awaitingTransactionReplies(var transaction):
            let reply = extensions.enhancedStatusCodes ? ClientReplyParser.withEnhancedCode(reply) : reply
            if reply.code == 421 {
                // The server is closing (RFC 5321 §3.8): whatever is
                // undecided is tried again later.
                end(with: reply, sendingQuit: false, into: &effects)
                return
            }
            guard !transaction.pending.isEmpty else {
                protocolError(into: &effects)
                return
            }
            let awaited = transaction.pending.removeFirst()
            guard transaction.take(reply, for: awaited) else {
                protocolError(into: &effects)
                return
            }
            advance(transaction, into: &effects)
        case .awaitingQuitReply:
            // 221, or anything: the session is over either way.
            close(into: &effects)
        }
    }

    private mutating func timedOut(into effects: inout [ClientEffect]) {
        switch state {
        case .closed:
            return
        case .awaitingMessage:
            // Idle, nothing owed: end politely.
            isFinishing = true
            sendQuit(into: &effects)
        case .awaitingQuitReply:
            close(into: &effects)
        case .awaitingConnection, .awaitingGreeting, .awaitingGreetingThenHelloReply, .awaitingHelloReply, .awaitingTransactionReplies:
            end(with: .clientTimeout, sendingQuit: false, into: &effects)
        }
    }

    /// Queues `message`; `isLast` finishes at the same time, so that QUIT
    /// goes in the same flight as the message when pipelining.
    private mutating func enqueue(_ message: ClientMessage, isLast: Bool = false,
                                  into effects: inout [ClientEffect]) {
        let prepared = message.prepared()
        guard !isFinishing && !isClosed else {
            effects.append(.finished(ClientSession.report(prepared, outcome: .failure(.clientSessionEnded))))
            return
        }
        queue.append(prepared)
        isFinishing = isLast
        if case .awaitingMessage = state {
            startNextTransaction(into: &effects)
        }
    }

    private mutating func finish(into effects: inout [ClientEffect]) {
        guard !isFinishing else {
            return
        }
        isFinishing = true
        switch state {
        case .awaitingMessage:
            startNextTransaction(into: &effects)  // the queue is empty: QUIT
        case .awaitingTransactionReplies(let transaction):
            // Everything of the last transaction is on its way: QUIT can
            // follow at once (RFC 2920 §3.1: QUIT may end a group).
            if extensions.pipelining && queue.isEmpty && transaction.textSent && !quitSent {
                quitSent = true
                effects.append(.send(ClientSession.line("QUIT")))
            }
        case .awaitingConnection, .awaitingGreeting, .awaitingGreetingThenHelloReply, .awaitingHelloReply, .awaitingQuitReply, .closed:
            break
        }
    }

    // MARK: - Greeting

    private mutating func sendHello(isExtended: Bool, into effects: inout [ClientEffect]) {
        state = .awaitingHelloReply(isExtended: isExtended)
        effects.append(.send(ClientSession.line((isExtended ? "EHLO " : "HELO ") + configuration.heloName)))
        setReadTimeout(limits.mailTimeoutMilliseconds, into: &effects)
    }

    /// The server refused the session (greeting or EHLO/HELO): every message
    /// fails with its reply.
    private mutating func refuseSession(_ reply: Reply, into effects: inout [ClientEffect]) {
        switch reply.code / 100 {
        case 4, 5:
            // After 421 the server closes (RFC 5321 §3.8); after anything
            // else the client sends QUIT (RFC 5321 §3.1).
            end(with: reply, sendingQuit: reply.code != 421, into: &effects)
        default:
            protocolError(into: &effects)  // a 2yz or 3yz that is not the one expected
        }
    }

    // MARK: - Transactions

    /// Begins the next message that can be sent, or QUITs when the queue is
    /// empty and the owner finished, or waits for a message.
    private mutating func startNextTransaction(into effects: inout [ClientEffect]) {
        while !queue.isEmpty {
            let message = queue.removeFirst()
            if let refusal = refusal(of: message) {
                effects.append(.finished(ClientSession.report(message, outcome: .failure(refusal))))
                continue
            }
            let transaction = Transaction(message: message, needsReset: needsReset)
            guard transaction.outcomes.contains(where: { $0 == nil }) else {
                // No recipient can be sent: nothing goes on the wire.
                effects.append(.finished(transaction.report(undecided: .failure(.clientBadRecipient))))
                continue
            }
            advance(transaction, into: &effects)
            return
        }
        if isFinishing {
            sendQuit(into: &effects)
        } else {
            state = .awaitingMessage
        }
    }

    /// Why a message cannot be sent to this server at all, checked before
    /// anything of it is sent; nil when it can.
    private func refusal(of message: ClientMessage.Prepared) -> Reply? {
        if message.reversePath == nil {
            return .clientBadSender
        }
        if message.requiresSMTPUTF8 && !extensions.smtpUTF8 {
            return .clientSMTPUTF8NotOffered
        }
        if message.hasEightBitContent && !extensions.eightBitMIME {
            return .clientEightBitNotOffered
        }
        if let limit = extensions.maxMessageSize, message.size > limit {
            return .clientMessageTooLarge(size: message.size, limit: limit)
        }
        return nil
    }

    /// Sends what the transaction allows now — everything up to the next
    /// group end when pipelining, one command otherwise once every reply is
    /// in — or, when nothing is owed and nothing is left, reports it.
    private mutating func advance(_ transaction: Transaction, into effects: inout [ClientEffect]) {
        var transaction = transaction
        var flight: [UInt8] = []
        var lastSent: Awaited?
        if extensions.pipelining || transaction.pending.isEmpty {
            while let (bytes, verb, awaited) = transaction.nextCommand(extensions: extensions) {
                flight.append(contentsOf: bytes)
                transaction.pending.append(awaited)
                lastSent = awaited
                // Without PIPELINING one command at a time. With it, up to
                // a verb that ends a group, from the verb table: DATA does
                // (RFC 2920 §3.1); MAIL, RCPT and RSET do not, nor does BDAT,
                // whose octets the server reads even when it refuses it
                // (RFC 3030 §2). The message text may begin a group.
                if !extensions.pipelining || verb?.endsPipelinedGroup == true {
                    break
                }
            }
        }
        if lastSent == .messageEnd && extensions.pipelining && queue.isEmpty && isFinishing && !quitSent {
            // Nothing more will be sent: QUIT ends this group (RFC 2920 §3.1).
            quitSent = true
            flight.append(contentsOf: ClientSession.line("QUIT"))
        }
        if !flight.isEmpty {
            effects.append(.send(flight))
        }
        guard let next = transaction.pending.first else {
            complete(transaction, into: &effects)
            return
        }
        state = .awaitingTransactionReplies(transaction)
        setReadTimeout(timeout(for: next), into: &effects)
    }

    private mutating func complete(_ transaction: Transaction, into effects: inout [ClientEffect]) {
        // Every recipient is decided by now; the fallback is never used.
        effects.append(.finished(transaction.report(undecided: .failure(.clientProtocolError))))
        needsReset = transaction.mayLeaveTransactionOpen
        if quitSent {
            state = .awaitingQuitReply
            setReadTimeout(limits.mailTimeoutMilliseconds, into: &effects)
        } else {
            startNextTransaction(into: &effects)
        }
    }

    private func timeout(for awaited: Awaited) -> UInt64 {
        switch awaited {
        case .reset, .mail:
            return limits.mailTimeoutMilliseconds
        case .recipient:
            return limits.recipientTimeoutMilliseconds
        case .dataGoAhead:
            return limits.dataInitiationTimeoutMilliseconds
        case .messageEnd:
            return limits.dataTerminationTimeoutMilliseconds
        }
    }

    // MARK: - Ending

    private mutating func sendQuit(into effects: inout [ClientEffect]) {
        if !quitSent {
            quitSent = true
            effects.append(.send(ClientSession.line("QUIT")))
        }
        state = .awaitingQuitReply
        setReadTimeout(limits.mailTimeoutMilliseconds, into: &effects)
    }

    private mutating func protocolError(into effects: inout [ClientEffect]) {
        switch state {
        case .awaitingConnection, .closed:
            return
        case .awaitingQuitReply:
            close(into: &effects)
        case .awaitingGreeting, .awaitingGreetingThenHelloReply, .awaitingHelloReply, .awaitingMessage, .awaitingTransactionReplies:
            end(with: .clientProtocolError, sendingQuit: false, into: &effects)
        }
    }

    /// Ends the session: the undecided recipients of the current transaction
    /// and every queued message fail with `reply`; then QUIT, or close.
    private mutating func end(with reply: Reply, sendingQuit: Bool, into effects: inout [ClientEffect]) {
        isFinishing = true
        switch state {
        case .closed:
            return
        case .awaitingTransactionReplies(let transaction):
            effects.append(.finished(transaction.report(undecided: .failure(reply))))
        case .awaitingConnection, .awaitingGreeting, .awaitingGreetingThenHelloReply, .awaitingHelloReply, .awaitingMessage, .awaitingQuitReply:
            break
        }
        for message in queue {
            effects.append(.finished(ClientSession.report(message, outcome: .failure(reply))))
        }
        queue = []
        if sendingQuit {
            sendQuit(into: &effects)
        } else {
            close(into: &effects)
        }
    }

    private mutating func close(into effects: inout [ClientEffect]) {
        state = .closed
        queue = []
        effects.append(.close)
    }

    // MARK: - Helpers

    private mutating func setReadTimeout(_ milliseconds: UInt64, into effects: inout [ClientEffect]) {
        guard readTimeout != milliseconds else {
            return
        }
        readTimeout = milliseconds
        effects.append(.setReadTimeout(milliseconds: milliseconds))
    }

    /// A report with the same outcome for every recipient of `message`.
    private static func report(_ message: ClientMessage.Prepared, outcome: RecipientOutcome) -> DeliveryReport {
        DeliveryReport(
            identifier: message.identifier,
            recipients: message.recipients.map { RecipientResult(recipient: $0, outcome: outcome) },
            messageReply: nil)
    }

    /// A command line: the text, an optional path, CRLF.
    private static func line(_ text: String, _ path: [UInt8] = []) -> [UInt8] {
        var bytes = Array(text.utf8)
        bytes.append(contentsOf: path)
        bytes.append(contentsOf: [0x0D, 0x0A])
        return bytes
    }
}

extension ClientSession: Sendable {}
