// ServerSession.swift — the ESMTP server session: a pure state machine that
// turns what the peer sends into replies and effects. No I/O, no clock: the
// adapter feeds it inputs (lines, byte chunks, timeouts, store results) and
// carries out the effects it returns.
//
// Untrusted input: everything the peer sends — command lines, DATA lines,
// BDAT bytes — arrives here. Every input is answered with a reply; nothing
// from the wire can crash the session, grow it without bound, or make it
// store a message that was not received exactly as framed (bare LF, bare CR
// and over-long lines refuse the message: SMTP smuggling defence).
// RFCs: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2034 / RFC 3463 (enhanced
// status codes), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING/BDAT), RFC 6152
// (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3848 (protocol names for Received).
//
// Profiles: `.relay` is the onion listener (implicit TLS, no AUTH, local
// recipients only). `.submission` is the mail submission listener (RFC 6409)
// for the node's own users: STARTTLS (RFC 3207; after it the session forgets
// everything and sends no second greeting), AUTH PLAIN (RFC 4954, RFC 4616;
// the password check is an effect, the answer an input, so the session stays
// pure) and MAIL only after AUTH when required. Its untrusted input includes
// the credentials; they are handed to the adapter once and kept nowhere.

/// Decides whether mail for a recipient is accepted here.
public protocol RecipientPolicy {
    /// Decides on a recipient whose forward path has NO source route
    /// (the session itself refuses source routes with 550 5.7.1).
    func decide(_ recipient: Mailbox) -> RecipientDecision

    /// Decides on a recipient given the recipients already accepted for the
    /// same message, in order (a policy may refuse combinations, e.g.
    /// `SubmissionPolicy`'s mixing rule). The session calls this one; by
    /// default it is `decide(_:)`.
    func decide(_ recipient: Mailbox, accepted: [Mailbox]) -> RecipientDecision
}

extension RecipientPolicy {
    /// Ignores the recipients accepted so far.
    public func decide(_ recipient: Mailbox, accepted: [Mailbox]) -> RecipientDecision {
        decide(recipient)
    }
}

/// The answer of a `RecipientPolicy`.
public enum RecipientDecision: Equatable, Sendable {
    /// The recipient is accepted (250 2.1.5).
    case accept
    /// The recipient is refused with this reply (e.g. `Reply.relayDenied`,
    /// `Reply.mailboxUnavailable`). A 5xx reply counts as a protocol error.
    case reject(Reply)
}

/// Which listener a session serves.
public enum ServerProfile: Equatable, Sendable {
    /// The onion listener: implicit TLS, no STARTTLS, no AUTH; what it
    /// accepts is the policy's business alone (docs/spec.md §4).
    case relay
    /// The mail submission listener (RFC 6409) for the node's own users.
    ///
    /// - `tlsActive`: the connection starts under TLS (implicit TLS).
    /// - `tlsAvailable`: STARTTLS can be offered (a server TLS context exists).
    /// - `authRequired`: MAIL needs a successful AUTH first (530 5.7.0).
    /// - `cleartextAuthAllowed`: AUTH PLAIN is offered without TLS; true only
    ///   for a listener on loopback, where no one can read the password on
    ///   the way. Elsewhere AUTH needs STARTTLS first (538 5.7.11).
    case submission(tlsActive: Bool, tlsAvailable: Bool, authRequired: Bool, cleartextAuthAllowed: Bool = false)

    /// The submission profile of a cleartext listener on `host`: STARTTLS
    /// when `tlsAvailable`, AUTH required, and AUTH in cleartext only when
    /// `host` is a loopback address and `requireTLS` is false.
    public static func submission(listeningOn host: String, tlsAvailable: Bool, requireTLS: Bool) -> ServerProfile {
        .submission(tlsActive: false, tlsAvailable: tlsAvailable, authRequired: true,
                    cleartextAuthAllowed: !requireTLS && isLoopback(host))
    }

    /// Whether `host` (a numeric address, or "localhost") is a loopback
    /// address: 127.0.0.0/8 or ::1.
    public static func isLoopback(_ host: String) -> Bool {
        var text = lowercasedASCII(host)
        if text.hasPrefix("[") && text.hasSuffix("]") {
            text = String(text.dropFirst().dropLast())
        }
        if text == "localhost" || text == "::1" || text == "0:0:0:0:0:0:0:1" {
            return true
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else {
            return false
        }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.count <= 3 && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                && (Int(part) ?? 256) <= 255
        }
    }
}

/// What a server session needs to know about its node.
public struct ServerConfiguration: Sendable {
    /// The node's domain (its onion name), used in the 220, EHLO, 221 and 421
    /// replies.
    public var hostname: String
    /// The limits enforced.
    public var limits: Limits
    /// Whether the connection is under TLS (true on the onion listener, where
    /// TLS is implicit); picks the protocol name for the Received field.
    /// With the `.submission` profile the profile's `tlsActive` counts
    /// instead (and STARTTLS changes it during the session).
    public var tlsActive: Bool
    /// Which listener the session serves.
    public var profile: ServerProfile
    /// The proof of work the relay listener requires (docs/spec.md §5): the
    /// offers announced with the `POW` EHLO keyword, taken from the
    /// algorithm registry when the connection is accepted. Nil: POW is not
    /// offered and RCPT takes no parameter. With it every new recipient
    /// costs a `.checkStamp` effect, whose answer decides its reply.
    public var proofOfWork: [PowRequirement]?

    /// Creates a configuration.
    public init(hostname: String, limits: Limits = Limits(), tlsActive: Bool = true,
                profile: ServerProfile = .relay, proofOfWork: [PowRequirement]? = nil) {
        self.hostname = hostname
        self.limits = limits
        self.tlsActive = tlsActive
        self.profile = profile
        self.proofOfWork = proofOfWork
    }
}

/// The body type declared with `MAIL FROM:<...> BODY=` (RFC 6152).
public enum BodyType: Equatable, Sendable {
    /// `BODY=7BIT` or no BODY parameter.
    case sevenBit
    /// `BODY=8BITMIME`.
    case eightBitMIME
}

/// The envelope of one mail transaction.
public struct Envelope: Equatable, Sendable {
    /// The EHLO/HELO argument, as written.
    public var heloName: String
    /// The reverse path; nil for the null reverse path `<>`.
    public var reversePath: Mailbox?
    /// The accepted recipients, each once, in the order accepted.
    public var recipients: [Mailbox]
    /// The declared body type.
    public var bodyType: BodyType
    /// Whether MAIL carried the SMTPUTF8 parameter (RFC 6531).
    public var smtpUTF8: Bool
    /// The size declared with `SIZE=` (RFC 1870), if any.
    public var declaredSize: Int?
    /// The "with" value for the Received field (RFC 3848, RFC 6531 §3.7.3):
    /// ESMTPS, UTF8SMTPS or SMTPS (for HELO) under TLS; ESMTP, UTF8SMTP or
    /// SMTP without; with an "A" after AUTH (ESMTPA, ESMTPSA, UTF8SMTPSA).
    public var protocolName: String
    /// The user who authenticated with AUTH before MAIL (submission
    /// listener), or nil.
    public var authenticatedUser: String?
    /// The proof-of-work stamp each recipient's RCPT carried, in the order
    /// of `recipients` (submission listener: stamps minted by the user's
    /// own device, passed on with the message, docs/spec.md §5.4); nil for
    /// none. Empty when no recipient had one.
    public var stamps: [String?] = []

    /// The stamp of the recipient at `index`, if it carried one.
    public func stamp(at index: Int) -> String? {
        index < stamps.count ? stamps[index] : nil
    }

    /// Creates an envelope.
    public init(
        heloName: String, reversePath: Mailbox?, recipients: [Mailbox],
        bodyType: BodyType, smtpUTF8: Bool, declaredSize: Int?, protocolName: String,
        authenticatedUser: String? = nil
    ) {
        self.heloName = heloName
        self.reversePath = reversePath
        self.recipients = recipients
        self.bodyType = bodyType
        self.smtpUTF8 = smtpUTF8
        self.declaredSize = declaredSize
        self.protocolName = protocolName
        self.authenticatedUser = authenticatedUser
    }
}

/// The outcome of storing a message, fed back with `ServerInput.stored`.
public enum StoreResult: Equatable, Sendable {
    /// Stored under this queue identifier (250 2.0.0).
    case stored(queueID: String)
    /// Not stored for now; the client should retry (451 4.3.0 with the text).
    case temporaryFailure(String)
    /// Not stored, ever (554 5.3.0 with the text).
    case permanentFailure(String)
}

/// An input to the server session.
public enum ServerInput: Equatable, Sendable {
    /// The connection is up (TLS done): send the greeting. After STARTTLS:
    /// the handshake is done (nothing is sent, RFC 3207 §4.2).
    case ready
    /// One line WITHOUT its LF; a CR before the LF is kept.
    case line([UInt8])
    /// No LF came within the current maximum; the adapter discards through
    /// the next LF.
    case lineTooLong
    /// BDAT bytes; `remaining` is what is left of the chunk after this piece
    /// (0: the chunk is complete).
    case chunk([UInt8], remaining: UInt64)
    /// The read timeout expired.
    case timeout
    /// The answer to the last `.store` effect.
    case stored(StoreResult)
    /// The answer to the last `.checkPassword` effect (submission listener):
    /// whether the user name and password are right.
    case passwordChecked(Bool)
    /// The answer to the last `.checkStamp` effect: nil when the stamp is
    /// accepted (its nonce is spent), else the reply refusing the recipient
    /// (`PowOutcome.reply`: 450 4.7.0 with the requirements, 550 5.7.1 for
    /// a forged or replayed stamp).
    case stampChecked(Reply?)
}

/// An effect the adapter carries out, in order.
public enum ServerEffect: Equatable, Sendable {
    /// Send this reply.
    case send(Reply)
    /// Frame input as lines of at most this many octets (incl. CRLF).
    case expectLines(maxLength: Int)
    /// Deliver the next N bytes as `.chunk` inputs, then wait for the next
    /// effect that sets a mode.
    case expectBytes(UInt64)
    /// Use this read timeout from now on.
    case setReadTimeout(milliseconds: UInt64)
    /// Store the message (dot-unstuffed for DATA, as received for BDAT) and
    /// answer with `.stored`; the session sends no reply until then. Input
    /// that arrives meanwhile is held and answered after that reply.
    case store(Envelope, message: [UInt8])
    /// Check the proof-of-work stamp of a recipient the policy accepted: the
    /// `POW=` value (nil when the RCPT had none) for `recipient`; answer with
    /// `.stampChecked`. The session sends no reply until then and holds
    /// input that arrives meanwhile.
    case checkStamp(String?, recipient: Mailbox)
    /// Close the connection after flushing what was sent.
    case close
}

/// The server side of one ESMTP session.
///
/// Feed every input to `receive(_:)` (profile `.relay`) or
/// `receiveSubmission(_:)` (either profile) and carry out the returned
/// effects in order. The session never performs I/O and never reads a clock.
public struct ServerSession<Policy: RecipientPolicy> {
    /// The client's greeting: EHLO/HELO argument and which of the two.
    private struct Greeting: Equatable {
        var heloName: String
        var isExtended: Bool
    }

    /// An open mail transaction (after MAIL).
    private struct Transaction: Equatable {
        var greeting: Greeting
        var envelope: Envelope
        /// Whether a BDAT chunk was accepted in this transaction.
        var hasChunks: Bool
        /// Octets received in accepted BDAT chunks so far.
        var chunkedOctets: UInt64
    }

    /// Progress of a DATA message text.
    private struct DataReception: Equatable {
        var transaction: Transaction
        var octets: Int = 0
        var isOversized = false
        var hasBareLineFeed = false
        var hasBareCarriageReturn = false
        var hasLongLine = false

        /// Whether the message will be refused at its end.
        var isRefused: Bool {
            isOversized || hasBareLineFeed || hasBareCarriageReturn || hasLongLine
        }
    }

    /// Progress of one BDAT chunk.
    private struct ChunkReception: Equatable {
        /// The transaction the chunk belongs to (nil when there is none).
        var transaction: Transaction?
        /// The greeting to return to (nil before EHLO/HELO).
        var greeting: Greeting?
        /// Octets of the chunk still to come.
        var remaining: UInt64
        /// The chunk size announced.
        var size: UInt64
        /// Whether the chunk was announced with LAST.
        var isLast: Bool
        /// The reply to send once the chunk is read, when BDAT is refused.
        var refusal: Reply?
        /// Whether the message exceeds the size limit (chunk is discarded).
        var isOversized: Bool
    }

    /// The session states, named for what each waits for. The message text
    /// itself is kept in `message`, outside the enum, so that appending to it
    /// never copies it.
    private enum State: Equatable {
        case awaitingGreetingReady
        case awaitingHello
        case awaitingMail(Greeting)
        case awaitingRecipient(Transaction)
        case receivingData(DataReception)
        case receivingChunk(ChunkReception)
        case awaitingStore(Greeting)
        /// STARTTLS was answered; the TLS handshake is under way and
        /// everything before it is forgotten (RFC 3207 §4.2).
        case awaitingTLSHandshake
        /// AUTH PLAIN without an initial response: 334 was sent, the next
        /// line is the response (RFC 4954 §4).
        case awaitingAuthenticationResponse(Greeting)
        /// The password of `user` is being checked by the adapter.
        case awaitingPasswordCheck(Greeting, user: String)
        /// The stamp of `recipient` is being checked by the adapter.
        case awaitingStampCheck(Transaction, recipient: Mailbox)
        case closed
    }

    private let configuration: ServerConfiguration
    private let policy: Policy
    private var state: State = .awaitingGreetingReady
    /// The message text of the current transaction, as far as received.
    private var message: [UInt8] = []
    /// 5xx replies sent so far.
    private var protocolErrors = 0
    /// Input that arrived while a store was outstanding.
    private var held: [ServerInput] = []
    /// Whether more input arrived during a store than `maxHeldCommands`.
    private var heldOverflow = false
    /// Whether the connection is under TLS now.
    private var tlsActive: Bool
    /// The user who authenticated (submission listener), or nil.
    private var authenticatedUser: String?

    private var limits: Limits {
        configuration.limits
    }

    /// Creates a session that waits for `.ready`.
    public init(configuration: ServerConfiguration, policy: Policy) {
        self.configuration = configuration
        self.policy = policy
        switch configuration.profile {
        case .relay:
            tlsActive = configuration.tlsActive
        case .submission(let active, _, _, _):
            tlsActive = active
        }
    }

    /// Whether the session has ended; every further input returns no effects.
    public var isClosed: Bool {
        state == .closed
    }

    /// Processes one input and returns the effects to carry out, in order.
    ///
    /// For the `.relay` profile, which only has these effects. A
    /// `.submission` session must be driven with `receiveSubmission(_:)`
    /// (calling this one for it is a programmer error).
    public mutating func receive(_ input: ServerInput) -> [ServerEffect] {
        receiveSubmission(input).map { effect in
            switch effect {
            case .server(let serverEffect):
                return serverEffect
            case .startTLS, .checkPassword:
                preconditionFailure("a submission session is driven with receiveSubmission(_:)")
            }
        }
    }

    /// Processes one input and returns every effect to carry out, in order,
    /// including the submission listener's `.startTLS` and `.checkPassword`.
    public mutating func receiveSubmission(_ input: ServerInput) -> [SubmissionEffect] {
        var effects: [SubmissionEffect] = []
        handle(input, into: &effects)
        return effects
    }

    /// The user who authenticated with AUTH in this session, or nil.
    public var authenticatedUserName: String? {
        authenticatedUser
    }

    // MARK: - Dispatch

    private mutating func handle(_ input: ServerInput, into effects: inout [SubmissionEffect]) {
        switch state {
        case .closed:
            return
        case .awaitingGreetingReady:
            switch input {
            case .ready:
                state = .awaitingHello
                effects.append(.send(.greeting(hostname: configuration.hostname)))
                resumeCommands(into: &effects)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .line, .lineTooLong, .chunk, .stored, .passwordChecked, .stampChecked:
                return  // impossible before the connection is up: ignored
            }
        case .awaitingTLSHandshake:
            switch input {
            case .ready:
                // RFC 3207 §4.2: no greeting after the handshake; the client
                // starts again with EHLO.
                tlsActive = true
                state = .awaitingHello
                resumeCommands(into: &effects)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .line, .lineTooLong, .chunk, .stored, .passwordChecked, .stampChecked:
                return  // pre-TLS input the adapter failed to discard: never acted on
            }
        case .awaitingAuthenticationResponse(let greeting):
            switch input {
            case .line(let line):
                handleAuthenticationResponse(line, greeting: greeting, into: &effects)
            case .lineTooLong:
                state = .awaitingMail(greeting)
                respond(.authenticationLineTooLong(limit: limits.authenticationLineLength), into: &effects)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .stored, .passwordChecked, .stampChecked:
                return
            }
        case .awaitingPasswordCheck:
            switch input {
            case .passwordChecked(let isCorrect):
                finishAuthentication(isCorrect, into: &effects)
            case .line, .lineTooLong:
                hold(input)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .stored, .stampChecked:
                return
            }
        case .awaitingStampCheck:
            switch input {
            case .stampChecked(let refusal):
                finishStampCheck(refusal, into: &effects)
            case .line, .lineTooLong:
                hold(input)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .stored, .passwordChecked:
                return
            }
        case .awaitingHello, .awaitingMail, .awaitingRecipient:
            switch input {
            case .line(let line):
                handleCommandLine(line, into: &effects)
            case .lineTooLong:
                respond(.commandLineTooLong(limit: limits.commandLineLength), into: &effects)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .stored, .passwordChecked, .stampChecked:
                return
            }
        case .receivingData:
            switch input {
            case .line(let line):
                handleDataLine(line, into: &effects)
            case .lineTooLong:
                noteLongDataLine()
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .stored, .passwordChecked, .stampChecked:
                return
            }
        case .receivingChunk:
            switch input {
            case .chunk(let bytes, let remaining):
                _ = consumeChunk(bytes[...], reportedRemaining: remaining, into: &effects)
            case .line(let line):
                // Should not happen (the adapter frames bytes); the line is
                // the bytes it stands for, LF included.
                var bytes = line
                bytes.append(0x0A)
                let leftover = consumeChunk(bytes[...], reportedRemaining: nil, into: &effects)
                guard !leftover.isEmpty else {
                    return
                }
                let nextLine = ServerInput.line(Array(leftover.dropLast()))
                if case .awaitingStore = state {
                    held.insert(nextLine, at: 0)
                } else {
                    handle(nextLine, into: &effects)
                }
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .lineTooLong, .stored, .passwordChecked, .stampChecked:
                return
            }
        case .awaitingStore:
            switch input {
            case .stored(let result):
                finishStore(result, into: &effects)
            case .line, .lineTooLong:
                hold(input)
            case .timeout:
                closeOnTimeout(into: &effects)
            case .ready, .chunk, .passwordChecked, .stampChecked:
                return
            }
        }
    }

    /// Keeps a command line that arrived while the session waits for the
    /// adapter (a store, a password check), to answer it afterwards.
    private mutating func hold(_ input: ServerInput) {
        if held.count < limits.maxHeldCommands {
            held.append(input)
        } else {
            heldOverflow = true
        }
    }

    // MARK: - Commands

    private mutating func handleCommandLine(_ line: [UInt8], into effects: inout [SubmissionEffect]) {
        guard line.last == 0x0D else {
            respond(.bareLineFeedInCommand, into: &effects)
            return
        }
        guard line.count + 1 <= limits.commandLineLength || isLongAuthenticateLine(line)
                || isLongStampLine(line) else {
            respond(.commandLineTooLong(limit: limits.commandLineLength), into: &effects)
            return
        }
        let verb: Verb
        let arguments: ArraySlice<UInt8>
        do throws(CommandError) {
            (verb, arguments) = try Command.split(line.dropLast())
        } catch {
            respond(reply(for: error, verb: nil), into: &effects)
            return
        }
        let entry = VerbTable.entry(for: verb)
        guard VerbTable.isImplemented(entry, submission: isSubmission) else {
            respond(.notImplemented, into: &effects)
            return
        }
        let refusal = sequenceRefusal(for: entry)
        if let refusal, !entry.flags.contains(.consumesDataWhenRefused) {
            respond(refusal, into: &effects)
            return
        }
        let command: Command
        do throws(CommandError) {
            command = try Command.parse(verb: verb, arguments: arguments, limits: limits, submission: isSubmission)
        } catch {
            respond(reply(for: error, verb: verb), into: &effects)
            return
        }
        if entry.flags.contains(.resetsTransaction) {
            endTransaction()
        }
        execute(command, refusal: refusal, into: &effects)
    }

    /// The 503 reply when the verb's requirements (from the verb table) do
    /// not hold, or nil.
    private func sequenceRefusal(for entry: VerbEntry) -> Reply? {
        let requirements = entry.requirements
        let greeting = currentGreeting
        let transaction = currentTransaction
        if requirements.contains(.hello) && greeting == nil {
            return .needHello
        }
        if requirements.contains(.extendedHello) && greeting?.isExtended != true {
            return entry.verb == .binaryData ? .needExtendedHello : .extendedHelloRequired(verb: entry.name)
        }
        if requirements.contains(.noTransaction) && transaction != nil {
            return entry.verb == .mail ? .nestedMail : .transactionInProgress
        }
        if requirements.contains(.transaction) && transaction == nil {
            return .needMail
        }
        if requirements.contains(.recipient) && transaction?.envelope.recipients.isEmpty != false {
            return .needRecipient
        }
        if requirements.contains(.noChunks) && transaction?.hasChunks == true {
            return .dataAfterChunks
        }
        return nil
    }

    private func reply(for error: CommandError, verb: Verb?) -> Reply {
        switch error {
        case .unknownVerb:
            return .unknownCommand
        case .nonASCII:
            return .nonASCIICommand
        case .invalidCharacters:
            return .invalidCharacters
        case .missingArgument:
            return .missingArgument
        case .unexpectedArgument:
            return .unexpectedArgument
        case .syntax:
            return .syntaxError
        case .invalidDomain:
            return .invalidHelloDomain
        case .invalidParameter:
            return .invalidParameter
        case .invalidChunkSize:
            return .invalidChunkSize
        case .path(let pathError):
            let isRecipient = verb == .recipient
            switch pathError {
            case .syntax:
                return .badAddressSyntax(isRecipient: isRecipient)
            case .nullPathNotAllowed:
                return .nullRecipient
            case .localPartTooLong:
                return .localPartTooLong(limit: limits.localPartLength, isRecipient: isRecipient)
            case .domainTooLong:
                return .domainTooLong(limit: limits.domainLength, isRecipient: isRecipient)
            case .pathTooLong:
                return .pathTooLong(limit: limits.pathLength, isRecipient: isRecipient)
            }
        }
    }

    private mutating func execute(
        _ command: Command, refusal: Reply?, into effects: inout [SubmissionEffect]
    ) {
        switch command {
        case .extendedHello(let domain):
            state = .awaitingMail(Greeting(heloName: domain, isExtended: true))
            if let submission = submissionProfile {
                respond(.submissionExtendedHello(
                    hostname: configuration.hostname, limits: limits,
                    offersStartTLS: submission.tlsAvailable && !tlsActive,
                    offersAuthentication: offersAuthentication), into: &effects)
            } else {
                respond(.extendedHello(hostname: configuration.hostname, limits: limits,
                                       proofOfWork: offersProofOfWork ? configuration.proofOfWork : nil),
                        into: &effects)
            }
        case .hello(let domain):
            state = .awaitingMail(Greeting(heloName: domain, isExtended: false))
            respond(.hello(hostname: configuration.hostname), into: &effects)
        case .mail(let reversePath, let parameters):
            handleMail(reversePath, parameters: parameters, into: &effects)
        case .recipient(let forwardPath, let parameters):
            handleRecipient(forwardPath, parameters: parameters, into: &effects)
        case .data:
            beginData(into: &effects)
        case .binaryData(let size, let isLast):
            beginChunk(size: size, isLast: isLast, refusal: refusal, into: &effects)
        case .reset, .noop:
            respond(.ok, into: &effects)
        case .quit:
            effects.append(.send(.closing(hostname: configuration.hostname)))
            close(into: &effects)
        case .verify:
            respond(.cannotVerify, into: &effects)
        case .help:
            respond(.help(verbs: isSubmission ? VerbTable.submissionNames : VerbTable.implementedNames),
                    into: &effects)
        case .notImplemented:
            respond(.notImplemented, into: &effects)
        case .startTLS:
            startTLS(into: &effects)
        case .authenticate(let mechanism, let initialResponse):
            authenticate(mechanism: mechanism, initialResponse: initialResponse, into: &effects)
        }
    }

    // MARK: - STARTTLS and AUTH (submission listener)

    /// The submission profile's settings, or nil for the relay.
    private var submissionProfile: (tlsAvailable: Bool, authRequired: Bool, cleartextAuthAllowed: Bool)? {
        switch configuration.profile {
        case .relay:
            return nil
        case .submission(_, let tlsAvailable, let authRequired, let cleartextAuthAllowed):
            return (tlsAvailable, authRequired, cleartextAuthAllowed)
        }
    }

    private var isSubmission: Bool {
        submissionProfile != nil
    }

    /// Whether AUTH PLAIN may be used now: under TLS, or in cleartext where
    /// the profile allows it (loopback). RFC 4954 §4 and RFC 4616 §6: PLAIN
    /// sends the password as it is.
    private var offersAuthentication: Bool {
        guard let submission = submissionProfile else {
            return false
        }
        return tlsActive || submission.cleartextAuthAllowed
    }

    /// Whether the relay offers POW (docs/spec.md §5.5).
    private var offersProofOfWork: Bool {
        !isSubmission && configuration.proofOfWork != nil
    }

    /// Whether an over-long command line may stand as a RCPT line carrying
    /// a stamp (when POW is offered), judged from its first word.
    private func isLongStampLine(_ line: [UInt8]) -> Bool {
        guard offersProofOfWork, line.count + 1 <= limits.stampCommandLineLength, line.count > 5 else {
            return false
        }
        return line[0..<5].map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 } == Array("RCPT ".utf8)
    }

    /// Whether an over-long command line may stand as an AUTH command line
    /// (RFC 4954 §4 raises the limit for AUTH), judged from its first word.
    private func isLongAuthenticateLine(_ line: [UInt8]) -> Bool {
        guard isSubmission, line.count + 1 <= limits.authenticationLineLength else {
            return false
        }
        let verbEnd = line.firstIndex(of: 0x20) ?? line.endIndex
        return VerbTable.entry(named: line[..<verbEnd])?.verb == .authenticate
    }

    private mutating func startTLS(into effects: inout [SubmissionEffect]) {
        guard let submission = submissionProfile, submission.tlsAvailable else {
            respond(.notImplemented, into: &effects)
            return
        }
        guard !tlsActive else {
            respond(.tlsAlreadyActive, into: &effects)
            return
        }
        effects.append(.send(.readyToStartTLS))
        // RFC 3207 §4.2: "the server MUST discard any knowledge obtained from
        // the client, such as the argument to the EHLO command, which was not
        // obtained from the TLS negotiation itself." That includes an AUTH
        // done in cleartext on loopback and anything pipelined behind
        // STARTTLS (the adapter discards what it has not framed yet).
        message = []
        held = []
        heldOverflow = false
        authenticatedUser = nil
        state = .awaitingTLSHandshake
        effects.append(.startTLS)
    }

    private mutating func authenticate(
        mechanism: String, initialResponse: String?, into effects: inout [SubmissionEffect]
    ) {
        guard let greeting = currentGreeting else {
            respond(.needHello, into: &effects)  // the verb table requires EHLO: not reached
            return
        }
        guard authenticatedUser == nil else {
            respond(.alreadyAuthenticated, into: &effects)
            return
        }
        guard mechanism == "PLAIN" else {
            respond(.unsupportedMechanism, into: &effects)
            return
        }
        guard offersAuthentication else {
            respond(.encryptionRequired, into: &effects)
            return
        }
        if let initialResponse {
            checkPlainResponse(Array(initialResponse.utf8), greeting: greeting, into: &effects)
        } else {
            // PLAIN has no challenge: an empty one (RFC 4616 §2, RFC 4954 §4).
            state = .awaitingAuthenticationResponse(greeting)
            effects.append(.send(.authenticationChallenge))
        }
    }

    /// The line after 334: the response, or "*" to cancel (RFC 4954 §4).
    private mutating func handleAuthenticationResponse(
        _ line: [UInt8], greeting: Greeting, into effects: inout [SubmissionEffect]
    ) {
        state = .awaitingMail(greeting)
        guard line.last == 0x0D else {
            respond(.bareLineFeedInCommand, into: &effects)
            return
        }
        let response = Array(line.dropLast())
        guard response.count + 2 <= limits.authenticationLineLength else {
            respond(.authenticationLineTooLong(limit: limits.authenticationLineLength), into: &effects)
            return
        }
        if response == [0x2A] {  // "*"
            respond(.authenticationCancelled, into: &effects)
            return
        }
        checkPlainResponse(response, greeting: greeting, into: &effects)
    }

    /// Decodes a PLAIN response and asks the adapter to check the password.
    private mutating func checkPlainResponse(
        _ response: [UInt8], greeting: Greeting, into effects: inout [SubmissionEffect]
    ) {
        state = .awaitingMail(greeting)
        // "=" is the empty initial response (RFC 4954 §4).
        let decoded: [UInt8]? = response == [0x3D] ? [] : Base64.decode(String(decoding: response, as: UTF8.self))
        guard let decoded else {
            respond(.invalidBase64, into: &effects)
            return
        }
        guard let credentials = AuthPlain(message: decoded, maxFieldLength: limits.authenticationFieldLength) else {
            respond(.invalidPlainMessage, into: &effects)
            return
        }
        guard credentials.actsAsItself else {
            // RFC 4616 §2: the server decides whether authcid may act as
            // authzid; here no one may act as anyone else.
            respond(.authenticationFailed, into: &effects)
            return
        }
        state = .awaitingPasswordCheck(greeting, user: credentials.user)
        effects.append(.checkPassword(user: credentials.user, password: credentials.password))
    }

    private mutating func finishAuthentication(_ isCorrect: Bool, into effects: inout [SubmissionEffect]) {
        guard case .awaitingPasswordCheck(let greeting, let user) = state else {
            return
        }
        state = .awaitingMail(greeting)
        if isCorrect {
            authenticatedUser = user
            respond(.authenticationSucceeded, into: &effects)
        } else {
            respond(.authenticationFailed, into: &effects)  // a 5xx: counts as a protocol error
        }
        replayHeld(into: &effects)
    }

    // MARK: - MAIL and RCPT

    private mutating func handleMail(
        _ reversePath: Path, parameters: [ESMTPParameter], into effects: inout [SubmissionEffect]
    ) {
        guard let greeting = currentGreeting else {
            respond(.needHello, into: &effects)
            return
        }
        if let submission = submissionProfile, submission.authRequired, authenticatedUser == nil {
            respond(.authenticationRequired, into: &effects)
            return
        }
        guard parameters.isEmpty || greeting.isExtended else {
            respond(.parametersNeedExtendedHello, into: &effects)
            return
        }
        var bodyType = BodyType.sevenBit
        var smtpUTF8 = false
        var declaredSize: UInt64?
        var sizeOverflows = false
        var seen: [String] = []
        for parameter in parameters {
            guard !seen.contains(parameter.keyword) else {
                respond(.invalidParameter, into: &effects)
                return
            }
            seen.append(parameter.keyword)
            switch parameter.keyword {
            case "SIZE":
                guard let value = parameter.value,
                      value.utf8.allSatisfy({ $0.isDigit }), !value.isEmpty else {
                    respond(.invalidParameter, into: &effects)
                    return
                }
                if let size = Command.decimalValue(Array(value.utf8)[...]) {
                    declaredSize = size
                } else {
                    sizeOverflows = true  // all digits, beyond 64 bits
                }
            case "BODY":
                switch parameter.value.map({ Path.lowercased(Array($0.utf8)[...]) }) {
                case "7bit"?:
                    bodyType = .sevenBit
                case "8bitmime"?:
                    bodyType = .eightBitMIME
                default:
                    respond(.invalidParameter, into: &effects)
                    return
                }
            case "SMTPUTF8":
                guard parameter.value == nil else {
                    respond(.invalidParameter, into: &effects)
                    return
                }
                smtpUTF8 = true
            default:
                respond(.unsupportedParameter, into: &effects)
                return
            }
        }
        guard reversePath.isASCII || smtpUTF8 else {
            respond(.nonASCIIAddress, into: &effects)
            return
        }
        if sizeOverflows || (declaredSize ?? 0) > UInt64(max(limits.maxMessageSize, 0)) {
            respond(.messageTooLarge, into: &effects)
            return
        }
        // A source route in the reverse path is parsed and then ignored
        // (RFC 5321 §4.1.1.2, Appendix C).
        let envelope = Envelope(
            heloName: greeting.heloName,
            reversePath: reversePath.mailbox,
            recipients: [],
            bodyType: bodyType,
            smtpUTF8: smtpUTF8,
            declaredSize: declaredSize.map { Int($0) },
            protocolName: protocolName(isExtended: greeting.isExtended, smtpUTF8: smtpUTF8),
            authenticatedUser: authenticatedUser)
        message = []
        state = .awaitingRecipient(Transaction(
            greeting: greeting, envelope: envelope, hasChunks: false, chunkedOctets: 0))
        respond(.senderOK, into: &effects)
    }

    private mutating func handleRecipient(
        _ forwardPath: Path, parameters: [ESMTPParameter], into effects: inout [SubmissionEffect]
    ) {
        guard case .awaitingRecipient(var transaction) = state,
              var mailbox = forwardPath.mailbox else {
            respond(.needMail, into: &effects)
            return
        }
        // The only RCPT parameter is POW=: on the relay when it offers POW
        // (docs/spec.md §5.5), on the submission listener to carry a stamp
        // the user's device minted (§5.4).
        let isStampParameter = { (parameter: ESMTPParameter) in parameter.keyword == PowExtension.keyword }
        let takesStamps = offersProofOfWork || isSubmission
        guard parameters.allSatisfy({ takesStamps && transaction.greeting.isExtended && isStampParameter($0) })
        else {
            respond(transaction.greeting.isExtended ? .unsupportedParameter : .parametersNeedExtendedHello,
                    into: &effects)
            return
        }
        guard forwardPath.isASCII || transaction.envelope.smtpUTF8 else {
            respond(.nonASCIIAddress, into: &effects)
            return
        }
        guard transaction.envelope.recipients.count < limits.maxRecipients else {
            respond(.tooManyRecipients, into: &effects)
            return
        }
        guard forwardPath.route.isEmpty else {
            respond(.relayDenied, into: &effects)
            return
        }
        if mailbox.domain.isEmpty {
            // <Postmaster>: the postmaster of this host (RFC 5321 §4.1.1.3).
            mailbox.domain = Path.lowercased(Array(configuration.hostname.utf8)[...])
        }
        switch policy.decide(mailbox, accepted: transaction.envelope.recipients) {
        case .accept:
            let isNew = !transaction.envelope.recipients.contains(where: { $0.isSameAddress(as: mailbox) })
            if isNew && offersProofOfWork {
                // The policy's cheap refusals came first; now the stamp,
                // checked by the adapter (a repeated recipient costs none).
                var stamp: String?
                do throws(StampError) {
                    stamp = try PowExtension.stampText(in: parameters)
                } catch {
                    respond(PowOutcome.forged(.malformed(error)).reply ?? .unsupportedParameter, into: &effects)
                    return
                }
                state = .awaitingStampCheck(transaction, recipient: mailbox)
                effects.append(.checkStamp(stamp, recipient: mailbox))
                return
            }
            if isNew && isSubmission && !parameters.isEmpty {
                // A carried stamp must be one, for this recipient; its work
                // is the destination's to check.
                switch Self.carriedStamp(parameters, for: mailbox) {
                case .success(let stamp):
                    while transaction.envelope.stamps.count < transaction.envelope.recipients.count {
                        transaction.envelope.stamps.append(nil)
                    }
                    transaction.envelope.stamps.append(stamp)
                case .failure(let refusal):
                    respond(refusal.reply, into: &effects)
                    return
                }
            }
            if isNew {
                transaction.envelope.recipients.append(mailbox)
            }
            state = .awaitingRecipient(transaction)
            respond(.recipientOK, into: &effects)
        case .reject(let reply):
            respond(reply, into: &effects)
        }
    }

    /// A refusal, as the error of `carriedStamp`.
    private struct StampRefusal: Error {
        let reply: Reply
    }

    /// The stamp a submitted RCPT carries for `mailbox`, when it parses and
    /// is bound to that (SMTorP) recipient; else the 550 5.7.1 refusing it.
    private static func carriedStamp(_ parameters: [ESMTPParameter], for mailbox: Mailbox) -> Result<String, StampRefusal> {
        func refuse(_ forgery: PowForgery) -> Result<String, StampRefusal> {
            .failure(StampRefusal(reply: PowOutcome.forged(forgery).reply ?? .unsupportedParameter))
        }
        let text: String?
        let stamp: Stamp
        do throws(StampError) {
            text = try PowExtension.stampText(in: parameters)
            guard let text else { return refuse(.malformed(.syntax)) }
            stamp = try Stamp.parse(text)
        } catch {
            return refuse(.malformed(error))
        }
        let recipient: SMTorPAddress?
        do throws(AddressError) { recipient = try Address.parseSMTorP(mailbox.text) } catch { recipient = nil }
        guard let recipient, recipient.shortText == stamp.recipient.shortText, let text else {
            return refuse(.wrongRecipient)
        }
        return .success(text)
    }

    private mutating func finishStampCheck(_ refusal: Reply?, into effects: inout [SubmissionEffect]) {
        guard case .awaitingStampCheck(var transaction, let recipient) = state else {
            return
        }
        if let refusal {
            state = .awaitingRecipient(transaction)
            respond(refusal, into: &effects)  // a 550 counts as a protocol error
        } else {
            transaction.envelope.recipients.append(recipient)
            state = .awaitingRecipient(transaction)
            respond(.recipientOK, into: &effects)
        }
        replayHeld(into: &effects)
    }

    private func protocolName(isExtended: Bool, smtpUTF8: Bool) -> String {
        let base = !isExtended ? "SMTP" : (smtpUTF8 ? "UTF8SMTP" : "ESMTP")
        return base + (tlsActive ? "S" : "") + (authenticatedUser != nil ? "A" : "")
    }

    // MARK: - DATA

    private mutating func beginData(into effects: inout [SubmissionEffect]) {
        guard case .awaitingRecipient(let transaction) = state else {
            respond(.needMail, into: &effects)
            return
        }
        message = []
        state = .receivingData(DataReception(transaction: transaction))
        effects.append(.send(.startMailInput))
        effects.append(.expectLines(maxLength: limits.textLineLength))
        effects.append(.setReadTimeout(milliseconds: limits.dataTimeoutMilliseconds))
    }

    private mutating func handleDataLine(_ line: [UInt8], into effects: inout [SubmissionEffect]) {
        guard case .receivingData(var reception) = state else {
            return
        }
        var content = line[...]
        if line.last == 0x0D {
            content = content.dropLast()
            if content.count == 1 && content.first == 0x2E {
                finishData(reception, into: &effects)
                return
            }
        } else {
            // A line ended by a bare LF is not a line end (RFC 5321 §2.3.8),
            // so ".\n" never ends the data: SMTP smuggling defence.
            reception.hasBareLineFeed = true
        }
        if content.contains(0x0D) {
            reception.hasBareCarriageReturn = true
        }
        if line.count + 1 > limits.textLineLength {
            reception.hasLongLine = true
        }
        if content.first == 0x2E {
            content = content.dropFirst()  // dot-unstuffing (RFC 5321 §4.5.2)
        }
        if !reception.isOversized {
            reception.octets += content.count + 2
            reception.isOversized = reception.octets > limits.maxMessageSize
        }
        if reception.isRefused {
            message = []  // the message will be refused: keep nothing
        } else {
            message.append(contentsOf: content)
            message.append(0x0D)
            message.append(0x0A)
        }
        state = .receivingData(reception)
    }

    private mutating func noteLongDataLine() {
        guard case .receivingData(var reception) = state else {
            return
        }
        reception.hasLongLine = true
        message = []
        state = .receivingData(reception)
    }

    private mutating func finishData(_ reception: DataReception, into effects: inout [SubmissionEffect]) {
        let transaction = reception.transaction
        let refusal: Reply?
        if reception.hasBareLineFeed {
            refusal = .bareLineFeedInMessage
        } else if reception.hasBareCarriageReturn {
            refusal = .bareCarriageReturnInMessage
        } else if reception.hasLongLine {
            refusal = .textLineTooLong(limit: limits.textLineLength)
        } else if reception.isOversized {
            refusal = .messageTooLarge
        } else {
            refusal = nil
        }
        if let refusal {
            message = []
            state = .awaitingMail(transaction.greeting)
            respond(refusal, into: &effects)
            resumeCommands(into: &effects)
        } else {
            requestStore(transaction, into: &effects)
        }
    }

    // MARK: - BDAT

    private mutating func beginChunk(
        size: UInt64, isLast: Bool, refusal: Reply?, into effects: inout [SubmissionEffect]
    ) {
        var reception = ChunkReception(
            transaction: currentTransaction, greeting: currentGreeting,
            remaining: size, size: size, isLast: isLast, refusal: refusal, isOversized: false)
        if refusal == nil, var transaction = reception.transaction {
            transaction.hasChunks = true
            let (total, overflow) = transaction.chunkedOctets.addingReportingOverflow(size)
            if overflow || total > UInt64(max(limits.maxMessageSize, 0)) {
                reception.isOversized = true
                message = []
            }
            reception.transaction = transaction
        }
        state = .receivingChunk(reception)
        if size == 0 {
            completeChunk(into: &effects)
        } else {
            effects.append(.expectBytes(size))
            effects.append(.setReadTimeout(milliseconds: limits.dataTimeoutMilliseconds))
        }
    }

    /// Takes the bytes that belong to the current chunk and returns the rest.
    private mutating func consumeChunk(
        _ bytes: ArraySlice<UInt8>, reportedRemaining: UInt64?, into effects: inout [SubmissionEffect]
    ) -> ArraySlice<UInt8> {
        guard case .receivingChunk(var reception) = state else {
            return bytes
        }
        let count = Int(min(UInt64(bytes.count), reception.remaining))
        let piece = bytes.prefix(count)
        if reception.refusal == nil && !reception.isOversized && reception.transaction != nil {
            message.append(contentsOf: piece)
        }
        reception.remaining -= UInt64(count)
        state = .receivingChunk(reception)
        if reception.remaining == 0 || reportedRemaining == 0 {
            completeChunk(into: &effects)
        }
        return bytes.dropFirst(count)
    }

    private mutating func completeChunk(into effects: inout [SubmissionEffect]) {
        guard case .receivingChunk(let reception) = state else {
            return
        }
        if let refusal = reception.refusal {
            if let transaction = reception.transaction {
                state = .awaitingRecipient(transaction)
            } else if let greeting = reception.greeting {
                state = .awaitingMail(greeting)
            } else {
                state = .awaitingHello
            }
            respond(refusal, into: &effects)
            resumeCommands(into: &effects)
            return
        }
        guard var transaction = reception.transaction else {
            state = .awaitingHello
            resumeCommands(into: &effects)
            return
        }
        if reception.isOversized {
            // RFC 3030 §2: the transaction ends; later chunks are refused.
            message = []
            state = .awaitingMail(transaction.greeting)
            respond(.messageTooLarge, into: &effects)
            resumeCommands(into: &effects)
            return
        }
        transaction.chunkedOctets += reception.size
        if reception.isLast {
            requestStore(transaction, into: &effects)
        } else {
            state = .awaitingRecipient(transaction)
            respond(.chunkReceived(octets: reception.size), into: &effects)
            resumeCommands(into: &effects)
        }
    }

    // MARK: - Storing

    private mutating func requestStore(_ transaction: Transaction, into effects: inout [SubmissionEffect]) {
        let text = message
        message = []
        state = .awaitingStore(transaction.greeting)
        resumeCommands(into: &effects)
        effects.append(.store(transaction.envelope, message: text))
    }

    private mutating func finishStore(_ result: StoreResult, into effects: inout [SubmissionEffect]) {
        guard case .awaitingStore(let greeting) = state else {
            return
        }
        state = .awaitingMail(greeting)
        switch result {
        case .stored(let queueID):
            respond(.queued(queueID: queueID), into: &effects)
        case .temporaryFailure(let text):
            respond(.storeTemporaryFailure(text), into: &effects)
        case .permanentFailure(let text):
            respond(.storePermanentFailure(text), into: &effects)
        }
        guard state != .closed else {
            return
        }
        resumeCommands(into: &effects)
        replayHeld(into: &effects)
    }

    /// Answers the command lines held while the adapter was busy, in order,
    /// until the session waits for the adapter again.
    private mutating func replayHeld(into effects: inout [SubmissionEffect]) {
        guard state != .closed else {
            return
        }
        if heldOverflow {
            effects.append(.send(.tooManyHeldCommands(hostname: configuration.hostname)))
            close(into: &effects)
            return
        }
        while !held.isEmpty {
            switch state {
            case .awaitingStore, .awaitingPasswordCheck, .awaitingStampCheck, .awaitingTLSHandshake, .closed:
                return
            case .awaitingGreetingReady, .awaitingHello, .awaitingMail, .awaitingRecipient,
                 .receivingData, .receivingChunk, .awaitingAuthenticationResponse:
                handle(held.removeFirst(), into: &effects)
            }
        }
    }

    // MARK: - Helpers

    private var currentGreeting: Greeting? {
        switch state {
        case .awaitingMail(let greeting), .awaitingStore(let greeting),
             .awaitingAuthenticationResponse(let greeting), .awaitingPasswordCheck(let greeting, _):
            return greeting
        case .awaitingRecipient(let transaction), .awaitingStampCheck(let transaction, _):
            return transaction.greeting
        case .receivingData(let reception):
            return reception.transaction.greeting
        case .receivingChunk(let reception):
            return reception.greeting
        case .awaitingGreetingReady, .awaitingHello, .awaitingTLSHandshake, .closed:
            return nil
        }
    }

    private var currentTransaction: Transaction? {
        switch state {
        case .awaitingRecipient(let transaction), .awaitingStampCheck(let transaction, _):
            return transaction
        case .receivingData(let reception):
            return reception.transaction
        case .receivingChunk(let reception):
            return reception.transaction
        case .awaitingGreetingReady, .awaitingHello, .awaitingMail, .awaitingStore, .awaitingTLSHandshake,
             .awaitingAuthenticationResponse, .awaitingPasswordCheck, .closed:
            return nil
        }
    }

    /// Ends any open transaction, keeping the greeting.
    private mutating func endTransaction() {
        message = []
        if let greeting = currentGreeting {
            state = .awaitingMail(greeting)
        } else {
            state = .awaitingHello
        }
    }

    /// Sends a reply; a 5xx reply counts as a protocol error, and reaching
    /// `maxProtocolErrors` ends the session with 421 4.7.0.
    private mutating func respond(_ reply: Reply, into effects: inout [SubmissionEffect]) {
        effects.append(.send(reply))
        guard reply.isPermanentFailure else {
            return
        }
        protocolErrors += 1
        if protocolErrors >= limits.maxProtocolErrors {
            effects.append(.send(.tooManyErrors(hostname: configuration.hostname)))
            close(into: &effects)
        }
    }

    /// Back to command mode: line framing and the command timeout. The
    /// submission listener frames up to the AUTH line limit (RFC 4954 §4);
    /// other commands are still held to the command line limit.
    private func resumeCommands(into effects: inout [SubmissionEffect]) {
        guard state != .closed else {
            return
        }
        let framing = isSubmission
            ? max(limits.commandLineLength, limits.authenticationLineLength)
            : offersProofOfWork ? max(limits.commandLineLength, limits.stampCommandLineLength)
            : limits.commandLineLength
        effects.append(.expectLines(maxLength: framing))
        effects.append(.setReadTimeout(milliseconds: limits.commandTimeoutMilliseconds))
    }

    private mutating func closeOnTimeout(into effects: inout [SubmissionEffect]) {
        effects.append(.send(.timeout(hostname: configuration.hostname)))
        close(into: &effects)
    }

    private mutating func close(into effects: inout [SubmissionEffect]) {
        state = .closed
        message = []
        held = []
        authenticatedUser = nil
        effects.append(.close)
    }
}

extension ServerSession: Sendable where Policy: Sendable {}
