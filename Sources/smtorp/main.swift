// main.swift: the `smtorp` command-line tool.
//
//   smtorp init    [options]        create the node: data directory, keys, config
//   smtorp serve   [options]        run the node (onion listener, Maildirs)
//   smtorp address [options] [NAME] print the node's SMTorP addresses, mailto:, QR
//   smtorp --version | --help | help COMMAND
//
// Untrusted input: the command line and the configuration file; every
// mistake is a usage error naming the problem (exit 64 for usage, 78 for
// configuration, 1 for a runtime failure).
import SMTorP
import SMTorPCore

enum ExitCode {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64   // EX_USAGE
    static let config: Int32 = 78  // EX_CONFIG
}

func say(_ text: String) {
    let b = Array((text + "\n").utf8)
    smtorp_write_stdout(b, b.count)
}

func complain(_ text: String) {
    let b = Array(("smtorp: " + text + "\n").utf8)
    smtorp_write_stderr(b, b.count)
}

let mainHelp = """
usage: smtorp <command> [options]

SMTorP: e-mail between ESMTP servers that run as Tor onion services.

commands:
  init       create the node: data directory, onion key, TLS identity, config
  serve      run the node: the implicit-TLS SMTP listener and local Maildirs
  address    print this node's SMTorP addresses for a mailbox
  check      tell whether addresses are valid SMTorP (or legacy) addresses
  send       deliver one message now over Tor
  contacts   list the address book and pinned fingerprints
  sendmail   the sendmail(1) interface: queue a message from standard input
  queue      list the outbound queue (like mailq), flush it, remove a message
  passwd     add a user (or change a password) for the submission listener
  pow        proof of work: `pow bench` measures this machine
  help       show help for a command

options:
  --version  print the version and exit
  --help     show this help
"""

let serveHelp = """
usage: smtorp serve [options]

Runs the node. Settings come from the configuration file (if any), then from
the options, which override it. The data directory is created on first run
(mode 0700) with the node's onion key and TLS identity.

options:
  --config FILE          configuration file (docs/configuration.md)
  --data-dir DIR         data directory (setting data_directory)
  --listen HOST:PORT     onion listener address (listen; default 127.0.0.1:2525)
  --mailbox NAME         a local mailbox; repeatable (mailbox)
  --domain-alias DOMAIN  an extra domain of this node; repeatable (domain_alias)
  --max-message-size N   octets (max_message_size; default 10240000)
  --max-recipients N     per message (max_recipients; default 100)
  --command-timeout S    seconds (command_timeout; default 300)
  --data-timeout S       seconds (data_timeout; default 300)
  --log-level LEVEL      debug, info, warning or error (log_level; default info)
  --tor MODE             managed (start our own tor, default), external, or off
                         (loopback only, no onion service) (tor)
  --tor-control H:P      use the tor at this control port (tor_control)
  --tor-socks H:P        that tor's SOCKS port (tor_socks)
  --tor-binary PATH      the tor program to run (tor_binary; default tor)
  --tor-include FILE     extra torrc lines for the managed tor (tor_include)
  --onion-port N         the onion service's virtual port (onion_port; default 25)
  --retry-min S / --retry-max S / --queue-lifetime S / --delay-warning S
  --max-destinations N   the outbound queue (see docs/configuration.md)
  --pow on|off           require a proof-of-work stamp per recipient (pow;
                         default on; off only for tests and closed setups)
  --pow-eqh96-5 E / --pow-a2id-1m E / --pow-hc1 E
                         effort per algorithm, 0 refuses it (docs/spec.md §5)
  --pow-threads N        threads solving our own stamps (0: one per CPU)
  --passwords FILE       run the mail submission listener for the users in FILE
                         (user:argon2id-hash lines)
  --submission-listen HOST:PORT  its address (default 127.0.0.1:587)
  --submission-require-tls       AUTH only after STARTTLS, even on loopback
  --help                 show this help
"""

let sendmailHelp = """
usage: smtorp sendmail [--data-dir DIR | --config FILE] [sendmail options] [RECIPIENT...]

The sendmail(1) interface for mail user agents (mutt, neomutt, git
send-email): reads a message on standard input and queues it durably for
delivery over Tor by this node's `smtorp serve`; exit 0 means it is on disk.
Options as sendmail has them: -t (recipients from To/Cc/Bcc; Bcc removed),
-i / -oi, -f SENDER, -F NAME; delivery-mode options are accepted and ignored.
Only SMTorP recipients are accepted; a message that names a legacy address is
refused (legacy recipients could not reply to all). Default sender: the
node's first mailbox.
Configure a MUA with e.g.: set sendmail="smtorp sendmail --data-dir DIR"
"""

let queueHelp = """
usage: smtorp queue [--data-dir DIR | --config FILE] [--flush | --remove ID]

Lists the outbound queue like mailq: each message with its size, arrival and
sender, and each recipient's state (pending, deferred with the reason and the
next attempt, delivered, failed). --flush makes every deferred recipient due
now (the running node retries within a second); --remove ID deletes a message.
"""

let sendHelp = """
usage: smtorp send [options] --from ADDRESS --to ADDRESS [--to ADDRESS...] < MESSAGE

Delivers one message (RFC 5322, read from standard input) now, over Tor, to
SMTorP recipients, and reports each recipient's outcome. When a recipient's
address carries a fingerprint label, the server's TLS certificate must match
it or nothing is sent. Recipients at one onion share one connection.
When the server asks for proof of work (its EHLO `POW` keyword), a stamp is
solved per recipient on worker threads first (progress on standard error
for long solves); a 450 asking for more is solved again and retried once.
Exit status: 0 all delivered, 75 some deferred (try again later), 69 some
failed permanently.

options:
  --config FILE / --data-dir DIR   the node (its onion name is the EHLO name)
  --from ADDRESS                   the envelope sender
  --to ADDRESS                     a recipient; repeatable
  --tor-socks HOST:PORT            tor's SOCKS port (default: tor_socks, or the
                                   one the node's `smtorp serve` is using)
  --pow-threads N                  threads solving stamps (default pow_threads:
                                   0, one per CPU)
  --help                           show this help
"""

let addressHelp = """
usage: smtorp address [options] [MAILBOX]

Prints the full SMTorP address of MAILBOX (default: the first configured
mailbox, else "postmaster") with the TLS fingerprint label, then the short
form without it, then the node's onion name.

options:
  --config FILE     configuration file
  --data-dir DIR    data directory
  --short           print only the short address (no fingerprint label)
  --mailto          print a mailto: URI for the full address instead
  --subject TEXT    with --mailto: a subject for the URI
  --qr              also draw the address (or mailto: URI) as a QR code here
  --qr-png FILE     write the QR code as a PNG image
  --qr-svg FILE     write the QR code as an SVG image
  --help            show this help
"""

let checkHelp = """
usage: smtorp check [options] ADDRESS...

Checks each address (or mailto: URI) and prints one line per address:
  smtorp <normalised address> (full|short|no fingerprint label)
  legacy <normalised address>
  invalid <input>: <reason> [<error name>]
Exits 0 when every address is a valid SMTorP address, 1 otherwise.

options:
  --min-fingerprint N   shortest fingerprint label accepted (default 16)
  --help                show this help
"""

let initHelp = """
usage: smtorp init [options]

Creates the node: the data directory (mode 0700) with the onion service key,
the TLS key and self-signed certificate (files 0600), and a configuration file
<data-dir>/smtorp.conf with the defaults and the given mailboxes. Nothing that
exists is replaced. Prints the node's addresses.

options:
  --data-dir DIR    data directory (required)
  --mailbox NAME    a local mailbox; repeatable
  --listen HOST:PORT  the onion listener address for the config file
  --help            show this help
"""

/// Options shared by the commands that load a configuration.
struct LoadedOptions {
    var config = Configuration()
    var positional: [String] = []
    /// Flags without a value that were given (e.g. --qr).
    var switches: [String] = []
    /// Command-specific options with a value (not configuration settings).
    var extras: [String: String] = [:]
}

let flagToSetting: [String: String] = [
    "--data-dir": "data_directory", "--listen": "listen", "--mailbox": "mailbox",
    "--domain-alias": "domain_alias", "--max-message-size": "max_message_size",
    "--max-recipients": "max_recipients", "--command-timeout": "command_timeout",
    "--data-timeout": "data_timeout", "--log-level": "log_level",
    "--tor": "tor", "--tor-control": "tor_control", "--tor-socks": "tor_socks",
    "--tor-binary": "tor_binary", "--tor-include": "tor_include", "--onion-port": "onion_port",
    "--tor-timeout": "tor_timeout", "--retry-min": "retry_min", "--retry-max": "retry_max",
    "--queue-lifetime": "queue_lifetime", "--delay-warning": "delay_warning",
    "--max-destinations": "max_destinations", "--pow": "pow", "--pow-eqh96-5": "pow_eqh96-5",
    "--pow-a2id-1m": "pow_a2id-1m", "--pow-hc1": "pow_hc1", "--pow-threads": "pow_threads",
]

enum CLIError: Error {
    case usage(String)
    case config(String)
    case runtime(String)
}

func parseOptions(_ args: [String], allowed: [String], help: String,
                  switches: [String] = [], extras: [String] = []) throws(CLIError) -> LoadedOptions {
    var configPath: String? = nil
    var overrides: [(String, String)] = []
    var positional: [String] = []
    var switchesSeen: [String] = []
    var extraValues: [String: String] = [:]
    var i = 0
    while i < args.count {
        let arg = args[i]
        if arg == "--help" || arg == "-h" {
            say(help)
            exitProcess(ExitCode.ok)
        }
        var name = arg
        var inlineValue: String? = nil
        if arg.hasPrefix("--"), let eq = arg.utf8.firstIndex(of: UInt8(ascii: "=")) {
            name = String(arg[..<eq])
            inlineValue = String(arg[arg.index(after: eq)...])
        }
        if switches.contains(name) {
            if inlineValue != nil { throw .usage(name + " takes no value") }
            switchesSeen.append(name)
        } else if name == "--config" || allowed.contains(name) || extras.contains(name) {
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard i + 1 < args.count else { throw .usage(name + " needs a value") }
                i += 1
                value = args[i]
            }
            if name == "--config" {
                configPath = value
            } else if let setting = flagToSetting[name] {
                overrides.append((setting, value))
            } else {
                extraValues[name] = value
            }
        } else if arg.hasPrefix("-") {
            throw .usage("unknown option " + arg)
        } else {
            positional.append(arg)
        }
        i += 1
    }
    var options = LoadedOptions()
    if configPath == nil, let dir = overrides.first(where: { $0.0 == "data_directory" })?.1,
       DurableFile.exists(dir + "/smtorp.conf") {
        configPath = dir + "/smtorp.conf"  // written by `smtorp init` / the first `serve`
    }
    if let configPath {
        let bytes: [UInt8]
        do throws(CoreError) {
            bytes = try DurableFile.read(path: configPath, maxLength: 1 << 20)
        } catch {
            throw .config("cannot read configuration: " + error.message)
        }
        do throws(ConfigurationError) {
            options.config = try Configuration.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .config(configPath + ": " + error.description)
        }
    }
    for (key, value) in overrides {
        do throws(ConfigurationError) {
            try options.config.set(key: key, value: value)
        } catch {
            throw .usage(error.description)
        }
    }
    options.positional = positional
    options.switches = switchesSeen
    options.extras = extraValues
    return options
}

func exitProcess(_ code: Int32) -> Never {
    smtorp_exit(code)
}

func serve(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: Array(flagToSetting.keys), help: serveHelp,
                                   switches: ["--submission-require-tls"],
                                   extras: ["--passwords", "--submission-listen"])
    guard options.positional.isEmpty else { throw .usage("serve takes no arguments") }
    // The submission listener runs when there are users to authenticate.
    var submissionPasswords: PasswordFile? = nil
    var submissionListen = ListenAddress(host: "127.0.0.1", port: 587)
    if let text = options.extras["--submission-listen"] {
        guard let address = ListenAddress(parsing: text) else { throw .usage("--submission-listen takes HOST:PORT") }
        guard options.extras["--passwords"] != nil else { throw .usage("--submission-listen needs --passwords FILE") }
        submissionListen = address
    }
    if let path = options.extras["--passwords"] {
        do throws(PasswordFileError) {
            submissionPasswords = try PasswordFile.load(path: path)
        } catch {
            throw .config(error.message)
        }
    }
    let config = options.config
    guard !config.dataDirectory.isEmpty else {
        throw .usage("no data directory: use --data-dir or data_directory in --config")
    }
    let logger = Logger(threshold: config.logLevel)
    if config.proofOfWork.required && config.proofOfWork.registry.entries.isEmpty {
        throw .config("pow = on needs at least one algorithm with an effort above 0")
    }
    if config.mailboxes.isEmpty {
        logger.warning("no mailbox configured: every recipient will be refused")
    }
    do throws(CoreError) {
        let identity = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
        try writeDefaultConfiguration(config)
        let loop = try EventLoop()
        let tls = try TLSContext(certificatePath: identity.certificatePath, keyPath: identity.keyPath)
        let maildir = try Maildir(root: config.dataDirectory + "/Maildir")
        for mailbox in config.mailboxes { try maildir.prepare(mailbox: mailbox) }
        var limits = Limits()
        limits.maxMessageSize = config.maxMessageSize
        limits.maxRecipients = config.maxRecipients
        limits.commandTimeoutMilliseconds = UInt64(config.commandTimeoutSeconds) * 1000
        limits.dataTimeoutMilliseconds = UInt64(config.dataTimeoutSeconds) * 1000
        let hostname = identity.onion.hostname
        let policy = NodePolicy(onionHostname: hostname, fingerprintLabel: identity.fingerprintLabel,
                                aliases: config.domainAliases, mailboxes: config.mailboxes)
        let store = LocalDelivery(maildir: maildir, hostname: hostname, logger: logger)
        var proofOfWork: ServerProofOfWork? = nil
        if config.proofOfWork.required {
            let registry = config.proofOfWork.registry
            let checker = try ServerProofOfWork(directory: config.dataDirectory + "/pow-spent", registry: registry,
                                                hostname: hostname, logger: logger)
            logger.info("proof of work required: " + PowExtension.announcement(checker.requirements()))
            proofOfWork = checker
        } else {
            logger.warning("proof of work is off (pow = off): any sender may send without a stamp")
        }
        let server = try SMTPServer(
            loop: loop, tls: tls,
            settings: SMTPServerSettings(listen: config.listen,
                                         session: ServerConfiguration(hostname: hostname, limits: limits)),
            policy: policy, proofOfWork: proofOfWork, store: store, logger: logger)
        let queueStore = try QueueStore(directory: config.dataDirectory + "/queue")
        var submission: SMTPServer? = nil
        if let passwords = submissionPasswords {
            // Submitted mail: the node's own mailboxes are delivered here at
            // once, every other SMTorP recipient goes into the outbound queue
            // (durably, before the 250). Remote first: if the local copy then
            // fails, the 451 makes the client retry (a duplicate, never a loss).
            let submissionStore: SMTPStoreFunction = { envelope, message in
                let remote = envelope.recipients.filter { !policy.isLocalDomain($0.domain) }
                var queued: String? = nil
                if !remote.isEmpty {
                    do throws(QueueError) {
                        let stamps = envelope.recipients.indices
                            .filter { !policy.isLocalDomain(envelope.recipients[$0].domain) }
                            .map { envelope.stamp(at: $0) }
                        queued = try queueStore.enqueue(reversePath: envelope.reversePath, recipients: remote,
                                                        stamps: stamps, message: message,
                                                        now: smtorp_clock_unix_seconds()).text
                    } catch {
                        logger.error("submission: cannot queue: " + error.message)
                        return .temporaryFailure("Queue write failed, try again later")
                    }
                }
                var local = envelope
                local.recipients = envelope.recipients.filter { policy.isLocalDomain($0.domain) }
                if !local.recipients.isEmpty {
                    let result = store.store(local, message: message)
                    if case .stored = result, let queued { return .stored(queueID: queued) }
                    return result
                }
                return .stored(queueID: queued ?? "")
            }
            submission = try SMTPServer(
                loop: loop,
                submission: SMTPServerSettings(listen: submissionListen,
                                               session: ServerConfiguration(hostname: hostname, limits: limits)),
                startTLS: tls, requireTLS: options.switches.contains("--submission-require-tls"),
                policy: SubmissionPolicy(node: policy), passwords: passwords, logger: logger,
                store: submissionStore)
        }
        var publisher: OnionPublisher? = nil
        if config.torMode != .off {
            let p = OnionPublisher(loop: loop, configuration: config, identity: identity,
                                   targetPort: server.port, logger: logger)
            p.onReachable = { _ in
                if let socks = p.socksAddress {
                    try? DurableFile.replace(path: config.dataDirectory + "/tor_socks", parts: [Array((socks.text + "\n").utf8)])
                }
            }
            try p.start()
            publisher = p
        } else {
            logger.info("tor is off: no onion service, reachable on the listener only")
        }
        let configuredSocks = config.torSocks
        let runner = QueueRunner(loop: loop, store: queueStore, settings: config.queue, identity: identity,
                                 maildir: maildir, localMailboxes: config.mailboxes,
                                 dataDirectory: config.dataDirectory, logger: logger,
                                 solverThreads: config.proofOfWork.solverThreads,
                                 socksAddress: { configuredSocks ?? (publisher?.isReachable == true ? publisher?.socksAddress : nil) })
        try runner.start()
        let shutdown = ShutdownHandler(loop: loop, server: server, publisher: publisher, logger: logger,
                                       submission: submission)
        try CoreError.check(smtorp_loop_on_shutdown_signal(loop.raw, { signal, arg in
            guard let arg else { return }
            Unmanaged<ShutdownHandler>.fromOpaque(arg).takeUnretainedValue().shutdown(signal: signal)
        }, Unmanaged.passUnretained(shutdown).toOpaque()))
        logger.info("smtorp " + smtorpVersion + " node " + hostname)
        logger.info("fingerprint label " + identity.fingerprintLabel)
        logger.info("mailboxes: " + (config.mailboxes.isEmpty ? "(none)" : config.mailboxes.joined(separator: ", ")))
        var bound = config.listen
        bound.port = server.port
        logger.info("listening on " + bound.text + " (implicit TLS)")
        if let submission {
            var submissionBound = submissionListen
            submissionBound.port = submission.port
            logger.info("submission listening on " + submissionBound.text + " ("
                        + String(submissionPasswords?.users.count ?? 0) + " users)")
        }
        guard loop.run() else { throw CoreError(SMTORP_ERR_EVENT, context: "event loop") }
        withExtendedLifetime(shutdown) {}
        withExtendedLifetime(runner) {}
        logger.info("stopped")
    } catch {
        throw .runtime(error.message)
    }
}

/// Stops the node on SIGTERM/SIGINT: no new connections, open ones closed
/// (their transactions were never acknowledged), then the loop ends.
final class ShutdownHandler {
    let loop: EventLoop
    let server: SMTPServer
    let publisher: OnionPublisher?
    let logger: Logger
    let submission: SMTPServer?

    init(loop: EventLoop, server: SMTPServer, publisher: OnionPublisher?, logger: Logger,
         submission: SMTPServer? = nil) {
        self.loop = loop
        self.server = server
        self.publisher = publisher
        self.logger = logger
        self.submission = submission
    }

    func shutdown(signal: Int32) {
        logger.info("signal " + String(signal) + ": shutting down")
        server.shutdown()
        submission?.shutdown()
        publisher?.shutdown()
        loop.stop()
    }
}

/// Writes <data>/smtorp.conf with `config`'s settings when there is none.
func writeDefaultConfiguration(_ config: Configuration) throws(CoreError) {
    let path = config.dataDirectory + "/smtorp.conf"
    if DurableFile.exists(path) { return }
    try DurableFile.write(path: path, parts: [Array(config.fileText.utf8)])
}

func initNode(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: ["--data-dir", "--mailbox", "--listen"], help: initHelp)
    guard options.positional.isEmpty else { throw .usage("init takes no arguments") }
    let config = options.config
    guard !config.dataDirectory.isEmpty else { throw .usage("init needs --data-dir DIR") }
    do throws(CoreError) {
        let existed = DurableFile.exists(config.dataDirectory + "/onion_ed25519_seed")
        let identity = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
        try writeDefaultConfiguration(config)
        say((existed ? "node exists: " : "created node: ") + config.dataDirectory)
        say("onion:       " + identity.onion.hostname)
        say("fingerprint: " + identity.fingerprintLabel)
        for mailbox in config.mailboxes { say("address:     " + mailbox + "@" + identity.fullDomain) }
    } catch {
        throw .runtime(error.message)
    }
}

func address(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: ["--data-dir"], help: addressHelp,
                                   switches: ["--short", "--mailto", "--qr"],
                                   extras: ["--qr-png", "--qr-svg", "--subject"])
    guard options.positional.count <= 1 else { throw .usage("address takes at most one mailbox") }
    guard !options.config.dataDirectory.isEmpty else {
        throw .usage("no data directory: use --data-dir or data_directory in --config")
    }
    let mailbox = options.positional.first.map { lowercasedASCII($0) }
        ?? options.config.mailboxes.first ?? "postmaster"
    let identity: NodeIdentity
    do throws(CoreError) {
        identity = try NodeIdentity.loadOrCreate(dataDirectory: options.config.dataDirectory)
    } catch {
        throw .runtime(error.message)
    }
    let parsed: SMTorPAddress?
    do throws(AddressError) {
        parsed = try Address.parseSMTorP(mailbox + "@" + identity.fullDomain)
    } catch {
        throw .usage("`" + mailbox + "` cannot be a mailbox: " + error.message)
    }
    guard let full = parsed else { throw .runtime("internal: the node's address is not SMTorP") }
    let wantsShort = options.switches.contains("--short")
    let shown = wantsShort ? full.shortText : full.text
    var payload = shown
    if options.switches.contains("--mailto") {
        let short = SMTorPAddress(localPart: full.localPart, onion: full.onion, fingerprintLabel: nil)
        payload = MailtoURL(to: [.smtorp(wantsShort ? short : full)], subject: options.extras["--subject"]).text
        say(payload)
    } else if wantsShort {
        say(full.shortText)
    } else {
        say(full.text)
        say(full.shortText)
        say(identity.onion.hostname)
    }
    let wantsQR = options.switches.contains("--qr") || options.extras["--qr-png"] != nil || options.extras["--qr-svg"] != nil
    guard wantsQR else { return }
    let (matrix, why) = QREncoder.matrix(payload)
    guard let matrix else { throw .runtime(why) }
    if options.switches.contains("--qr") { say(matrix.terminalText()) }
    do throws(CoreError) {
        if let png = options.extras["--qr-png"] { try DurableFile.replace(path: png, parts: [matrix.png()]) }
        if let svg = options.extras["--qr-svg"] { try DurableFile.replace(path: svg, parts: [Array(matrix.svg().utf8)]) }
    } catch {
        throw .runtime("cannot write the QR image: " + error.message)
    }
}

func check(_ args: [String]) throws(CLIError) -> Int32 {
    let options = try parseOptions(args, allowed: [], help: checkHelp, extras: ["--min-fingerprint"])
    guard !options.positional.isEmpty else { throw .usage("check needs at least one address") }
    var minimum = SMTorPAddress.minimumFingerprintLength
    if let text = options.extras["--min-fingerprint"] {
        guard let n = Int(text), n >= minimum, n <= SMTorPAddress.fullFingerprintLength else {
            throw .usage("--min-fingerprint takes a number from 16 to 52")
        }
        minimum = n
    }
    var allSMTorP = true
    for input in options.positional {
        var addresses: [Address] = []
        if lowercasedASCII(String(input.prefix(7))) == "mailto:" {
            do throws(MailtoError) {
                let url = try MailtoURL.parse(input)
                addresses = url.to + url.cc
            } catch {
                say("invalid " + input + ": " + error.message)
                allSMTorP = false
                continue
            }
        } else {
            do throws(AddressError) {
                addresses = [try Address.parse(input, minimumFingerprintLength: minimum)]
            } catch {
                say("invalid " + input + ": " + error.message + " [" + error.name + "]")
                allSMTorP = false
                continue
            }
        }
        for address in addresses {
            switch address {
            case .smtorp(let a):
                let kind = a.fingerprintLabel == nil ? "no fingerprint label" : (a.isFull ? "full" : "short")
                say("smtorp " + a.text + " (" + kind + ")")
            case .legacy(let a):
                say("legacy " + a.text)
                allSMTorP = false
            }
        }
    }
    return allSMTorP ? ExitCode.ok : ExitCode.failure
}

func send(_ args: [String]) throws(CLIError) -> Int32 {
    var fromText: String? = nil
    var toTexts: [String] = []
    var rest: [String] = []
    var i = 0
    while i < args.count {  // --from/--to may repeat: take them out first
        if (args[i] == "--from" || args[i] == "--to") && i + 1 < args.count {
            if args[i] == "--from" { fromText = args[i + 1] } else { toTexts.append(args[i + 1]) }
            i += 2
        } else {
            rest.append(args[i])
            i += 1
        }
    }
    let options = try parseOptions(rest, allowed: ["--data-dir", "--tor-socks", "--log-level", "--pow-threads"], help: sendHelp)
    guard options.positional.isEmpty else { throw .usage("send takes no arguments; the message comes on standard input") }
    guard let fromText else { throw .usage("send needs --from ADDRESS") }
    guard !toTexts.isEmpty else { throw .usage("send needs at least one --to ADDRESS") }
    let config = options.config
    guard !config.dataDirectory.isEmpty else { throw .usage("send needs the node: --data-dir DIR or --config FILE") }
    let logger = Logger(threshold: config.logLevel)

    let sender: Mailbox
    do throws(AddressError) {
        sender = try Address.parse(fromText).mailbox
    } catch {
        throw .usage("--from " + fromText + ": " + error.message)
    }
    var groups: [(SMTorPAddress, [Mailbox])] = []
    for text in toTexts {
        let parsed: Address
        do throws(AddressError) { parsed = try Address.parse(text) } catch {
            throw .usage("--to " + text + ": " + error.message)
        }
        guard case .smtorp(let a) = parsed else {
            throw .usage("--to " + text + " is not an SMTorP address (mixing with legacy mail is refused)")
        }
        let box = parsed.mailbox
        if let index = groups.firstIndex(where: { $0.0.onion == a.onion }) {
            if groups[index].0.fingerprintLabel != a.fingerprintLabel {
                throw .usage("two recipients at " + a.onion.hostname + " name different fingerprint labels")
            }
            groups[index].1.append(box)
        } else {
            groups.append((a, [box]))
        }
    }
    let message: [UInt8]
    do throws(CoreError) {
        message = try DurableFile.readStandardInput(maxLength: config.maxMessageSize)
    } catch {
        throw .usage("cannot read the message from standard input: " + error.message)
    }
    var socks = config.torSocks
    if socks == nil, let bytes = try? DurableFile.read(path: config.dataDirectory + "/tor_socks", maxLength: 100) {
        socks = ListenAddress(parsing: String(decoding: trim(bytes), as: UTF8.self))
    }
    guard let socks else {
        throw .runtime("no tor SOCKS port: run `smtorp serve` for this node, or pass --tor-socks HOST:PORT")
    }
    var worst: Int32 = ExitCode.ok
    do throws(CoreError) {
        let identity = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
        let loop = try EventLoop()
        let tls = try TLSContext(client: ())
        var trust = TrustStore(directory: config.dataDirectory)
        // The address book knows the full form of short addresses typed by
        // hand; the pin (not an upgraded label) judges the server, so a key
        // change defers the mail with a warning rather than failing it.
        for (destination, _) in groups where !destination.isFull {
            if let full = trust.fullForm(of: destination) {
                logger.info("address book: " + destination.text + " is " + full.text)
            }
        }
        var remaining = groups.count
        var connections: [SMTPClientConnection] = []
        // Stamps are solved on worker threads while the loop runs; a long
        // solve prints its progress.
        let minter = StampMinter(loop: loop, threads: config.proofOfWork.solverThreads)
        minter.onProgress = { request, attempts, milliseconds in
            complain("solving proof of work for " + request.recipient.text + " (" + request.requirement.algorithm.identifier
                + " effort " + String(request.requirement.effort) + "): " + String(attempts) + " attempts, "
                + String(milliseconds / 1000) + " s")
        }
        /// Delivers to `recipients`, minting their stamps for the server's
        /// POW offers once its EHLO reply is in (raised to what it `asked`
        /// in a 450 before); a 450 that asks for more proof of work is
        /// solved again and retried once (`mayRetry`).
        func deliver(_ destination: SMTorPAddress, _ recipients: [Mailbox], asked: [PowRequirement],
                     mayRetry: Bool) {
            let unstamped = ClientMessage(identifier: "0", reversePath: sender, recipients: recipients,
                                          content: message)
            let preparation: MessagePreparation = { extensions, message, done in
                guard let offered = extensions.proofOfWork else {
                    done(message)  // the server asks for no proof of work
                    return
                }
                minter.stamp(message, offers: PowRequirement.raising(offered, to: asked),
                             now: smtorp_clock_unix_seconds(), onFailure: { mailbox, why in
                                 say("no proof-of-work stamp for " + mailbox.text + ": " + why)
                             }, done: done)
            }
            let c = SMTPClientConnection(loop: loop, tls: tls, socks: socks, destination: destination,
                                         heloName: identity.onion.hostname, messages: [unstamped], trust: trust,
                                         logger: logger, preparation: preparation)
            connections.append(c)
            c.start { outcome in
                if let failure = outcome.failure {
                    for r in recipients {
                        say((failure.isTemporary ? "deferred " : "failed ") + r.text + ": " + failure.message)
                    }
                    worst = max(worst, failure.isTemporary ? 75 : 69)
                }
                var delivered: [String] = []
                var again: [Mailbox] = []
                var asked: [PowRequirement] = []
                for report in outcome.reports {
                    for result in report.recipients {
                        let reply = result.outcome.reply
                        let text = String(reply.code) + " " + (reply.enhanced.map { $0.text + " " } ?? "")
                            + reply.lines.joined(separator: " ")
                        if mayRetry, let more = DeliveryAttemptOutcome(result.outcome).proofOfWorkRequirements {
                            say("proof of work asked for " + result.recipient.text + ": " + text + "; solving again")
                            again.append(result.recipient)
                            asked = more
                            continue
                        }
                        switch result.outcome {
                        case .delivered:
                            delivered.append(result.recipient.localPart)
                            say("delivered " + result.recipient.text + ": " + text)
                        case .temporaryFailure:
                            say("deferred " + result.recipient.text + ": " + text)
                            worst = max(worst, 75)
                        case .permanentFailure:
                            say("failed " + result.recipient.text + ": " + text)
                            worst = max(worst, 69)
                        }
                    }
                }
                if !delivered.isEmpty, let fingerprint = outcome.serverFingerprint {
                    trust.recordDelivery(to: destination, fingerprint: fingerprint, recipients: delivered,
                                         now: smtorp_clock_unix_seconds())
                    do throws(CoreError) { try trust.save() } catch {
                        logger.warning("could not save pins and contacts: " + error.message)
                    }
                }
                let reported = outcome.reports.flatMap { $0.recipients.map { $0.recipient } }
                if outcome.failure == nil {
                    for r in recipients where !reported.contains(where: { $0.isSameAddress(as: r) }) {
                        say("deferred " + r.text + ": the connection ended before the message was sent")
                        worst = max(worst, 75)
                    }
                }
                if !again.isEmpty {
                    deliver(destination, again, asked: asked, mayRetry: false)
                    return
                }
                remaining -= 1
                if remaining == 0 { loop.stop() }
            }
        }
        for (destination, recipients) in groups {
            deliver(destination, recipients, asked: [], mayRetry: true)
        }
        if remaining > 0 { _ = loop.run() }
        withExtendedLifetime(connections) {}
        withExtendedLifetime(minter) {}
    } catch {
        throw .runtime(error.message)
    }
    return worst
}

func sendmail(_ args: [String]) throws(CLIError) -> Int32 {
    // Our own options come first; the rest is sendmail's command line.
    var own: [String] = []
    var i = 0
    while i < args.count && (args[i] == "--data-dir" || args[i] == "--config") && i + 1 < args.count {
        own += [args[i], args[i + 1]]
        i += 2
    }
    if args.contains("--help") { say(sendmailHelp); return ExitCode.ok }
    let options = try parseOptions(own, allowed: ["--data-dir"], help: sendmailHelp)
    let config = options.config
    guard !config.dataDirectory.isEmpty else { throw .usage("sendmail needs --data-dir DIR or --config FILE first") }
    let invocation: SendmailInvocation
    do throws(SendmailInvocation.Error) {
        invocation = try SendmailInvocation.parse(Array(args[i...]))
    } catch {
        switch error {
        case .missingValue(let o): throw .usage(o + " needs a value")
        case .unknownOption(let o): throw .usage("unknown sendmail option " + o)
        }
    }
    let raw: [UInt8]
    do throws(CoreError) {
        raw = try DurableFile.readStandardInput(maxLength: config.maxMessageSize)
    } catch {
        complain("cannot read the message: " + error.message)
        return 74  // EX_IOERR
    }
    let (message, headerRecipients) = SendmailInvocation.prepare(message: raw,
                                                                 extractRecipients: invocation.recipientsFromHeaders)
    var texts = invocation.recipients
    for r in headerRecipients where !texts.contains(r) { texts.append(r) }
    guard !texts.isEmpty else { throw .usage("no recipients (give them as arguments, or use -t)") }
    var recipients: [Mailbox] = []
    for text in texts {
        do throws(AddressError) {
            let parsed = try Address.parse(text)
            switch parsed {
            case .smtorp: recipients.append(parsed.mailbox)
            case .legacy:
                complain("refused: " + text + " is not an SMTorP address, and mixing SMTorP and legacy recipients "
                         + "is refused (legacy recipients could not reply to all); nothing was queued")
                return 67  // EX_NOUSER
            }
        } catch {
            complain("refused: " + text + ": " + error.message + "; nothing was queued")
            return 67
        }
    }
    let identity: NodeIdentity
    do throws(CoreError) { identity = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory) } catch {
        throw .runtime(error.message)
    }
    var sender: Mailbox? = Mailbox(localPart: config.mailboxes.first ?? "postmaster", domain: identity.fullDomain)
    if let f = invocation.sender {
        if f.isEmpty || f == "<>" {
            sender = nil
        } else {
            do throws(AddressError) {
                sender = try Address.parse(f).mailbox
            } catch {
                throw .usage("-f " + f + ": " + error.message)
            }
        }
    }
    do throws(CoreError) {
        let store = try QueueStore(directory: config.dataDirectory + "/queue")
        do throws(QueueError) {
            let id = try store.enqueue(reversePath: sender, recipients: recipients, message: message,
                                       now: smtorp_clock_unix_seconds())
            if options.config.logLevel <= .debug { complain("queued as " + id.text) }
        } catch {
            complain("not queued: " + error.message)
            return 75  // EX_TEMPFAIL: the MUA keeps the message
        }
    } catch {
        complain("not queued: " + error.message)
        return 75
    }
    return ExitCode.ok
}

func queue(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: ["--data-dir"], help: queueHelp, switches: ["--flush"],
                                   extras: ["--remove"])
    guard !options.config.dataDirectory.isEmpty else { throw .usage("queue needs --data-dir DIR or --config FILE") }
    do throws(CoreError) {
        let store = try QueueStore(directory: options.config.dataDirectory + "/queue")
        let now = smtorp_clock_unix_seconds()
        if let id = options.extras["--remove"] {
            guard let qid = QueueID(text: id) else { throw CoreError(SMTORP_ERR_INVALID_ARGUMENT, context: "no message " + id) }
            do throws(QueueError) { try store.remove(qid) } catch {
                throw CoreError(SMTORP_ERR_IO, context: error.message)
            }
            say("removed " + id)
            return
        }
        let scan = store.list()
        if options.switches.contains("--flush") {
            var n = 0
            for entry in scan.entries {
                var states = entry.states
                for j in states.indices where states[j].status == .deferred {
                    states[j].nextAttempt = now
                    n += 1
                }
                do throws(QueueError) { try store.update(entry.id, states: states) } catch {
                    complain(entry.id.text + ": " + error.message)
                }
            }
            say("flushed: " + String(n) + " deferred recipient(s) are due now")
            return
        }
        say(QueueListing.render(scan, now: now))
    } catch {
        throw .runtime(error.message)
    }
}

let passwdHelp = """
usage: smtorp passwd FILE USER < password

Adds USER to the submission password file FILE, or changes their password:
the first line of standard input is the password (never an argument, which
other users could see in the process list). Stored as an Argon2id hash
(libsodium crypto_pwhash_str); the file is written durably, mode 0600.
"""

func passwd(_ args: [String]) throws(CLIError) {
    if args.contains("--help") || args.contains("-h") { say(passwdHelp); return }
    guard args.count == 2 else { throw .usage("passwd takes FILE USER (the password comes on standard input)") }
    let (path, user) = (args[0], args[1])
    let input: [UInt8]
    do throws(CoreError) { input = try DurableFile.readStandardInput(maxLength: 4096) } catch {
        throw .runtime("cannot read the password: " + error.message)
    }
    let firstLine = input.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
    var password = Array(firstLine)
    if password.last == 13 { password.removeLast() }
    guard !password.isEmpty else { throw .usage("empty password") }
    let entry: String
    do throws(PasswordFileError) {
        entry = try PasswordFile.entry(user: user, password: String(decoding: password, as: UTF8.self))
    } catch {
        throw .usage("cannot add " + user + ": " + error.message)
    }
    var lines: [String] = []
    if let old = try? DurableFile.read(path: path, maxLength: 1 << 22) {
        for line in old.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self)
            if !text.hasPrefix(user + ":") { lines.append(text) }
        }
    }
    lines.append(entry)
    do throws(CoreError) {
        try DurableFile.replace(path: path, parts: [Array((lines.joined(separator: "\n") + "\n").utf8)])
    } catch {
        throw .runtime("cannot write " + path + ": " + error.message)
    }
    say("password set for " + user + " in " + path)
}

let powHelp = """
usage: smtorp pow bench [--seconds S] [--threads N]
       smtorp pow mint ADDRESS [--algorithm ID] [--effort E] [--threads N]
       smtorp pow check STAMP --for ADDRESS [--algorithm ID --effort E]

bench  measures this machine's proof-of-work speed: Equihash (96,5) solves
       per second and solver memory, Argon2id (1 MiB) and hashcash
       evaluations per second, so that efforts can be chosen in expected
       seconds.
mint   solves a stamp for ADDRESS now (on worker threads, progress on
       standard error) and prints it: the value of `RCPT TO:<ADDRESS>
       POW=<stamp>`, e.g. minted ahead of time and carried through a relay.
       ID is eqh96-5 (default), a2id-1m or hc1 (a hashcash v1 token, as
       `hashcash -m` makes); E defaults to what the standard registry asks
       now for that algorithm.
check  verifies STAMP for ADDRESS now against the standard registry (or
       only ID at effort E): exit 0 when a node would accept it (its nonce
       is not spent here), 1 with the reason when not.
"""

func pow(_ args: [String]) throws(CLIError) -> Int32 {
    switch args.first {
    case "bench":
        let options = try parseOptions(Array(args.dropFirst()), allowed: [], help: powHelp,
                                       extras: ["--seconds", "--threads"])
        let budget = PowBench.milliseconds(fromSeconds: options.extras["--seconds"] ?? "2") ?? 0
        let threads = UInt32(options.extras["--threads"] ?? "1") ?? 0
        guard budget > 0, budget <= 600_000, threads >= 1, threads <= 64 else {
            throw .usage("--seconds takes 0.1 to 600, --threads 1 to 64")
        }
        return PowBench.run(budget: budget, threads: threads)
    case "mint":
        return try powMint(Array(args.dropFirst()))
    case "check":
        return try powCheck(Array(args.dropFirst()))
    case "--help", "-h":
        say(powHelp)
        return ExitCode.ok
    default:
        throw .usage("pow takes `bench`, `mint` or `check` (see smtorp pow --help)")
    }
}

/// The requirement `--algorithm`/`--effort` name, or nil for none given.
func powRequirement(_ options: LoadedOptions, now: Int64) throws(CLIError) -> PowRequirement? {
    let id = options.extras["--algorithm"]
    let effortText = options.extras["--effort"]
    guard id != nil || effortText != nil else { return nil }
    guard let algorithm = PowAlgorithm(identifier: id ?? "eqh96-5") else {
        throw .usage("--algorithm takes eqh96-5, a2id-1m or hc1")
    }
    var effort = AlgorithmRegistry.standard.requiredEffort(for: algorithm, at: now) ?? 1
    if let effortText {
        guard let value = Stamp.parseEffort(effortText) else { throw .usage("--effort takes 1 to 4294967295") }
        effort = value
    }
    return PowRequirement(algorithm: algorithm, effort: effort)
}

func powMint(_ args: [String]) throws(CLIError) -> Int32 {
    let options = try parseOptions(args, allowed: [], help: powHelp, extras: ["--algorithm", "--effort", "--threads"])
    guard options.positional.count == 1 else { throw .usage("pow mint takes one ADDRESS") }
    let recipient: SMTorPAddress?
    do throws(AddressError) { recipient = try Address.parseSMTorP(options.positional[0]) } catch {
        throw .usage(options.positional[0] + ": " + error.message)
    }
    guard let recipient else { throw .usage(options.positional[0] + " is not an SMTorP address") }
    let threads = Int(options.extras["--threads"] ?? "0") ?? -1
    guard threads >= 0, threads <= 64 else { throw .usage("--threads takes 0 (one per CPU) to 64") }
    let now = smtorp_clock_unix_seconds()
    let offer = try powRequirement(options, now: now) ?? AlgorithmRegistry.standard.requirement(at: now)[0]
    guard StampRequest.choose(from: [offer], for: recipient) != nil else {
        throw .usage("hc1 cannot carry an address with \"=\" (the token would not be an ESMTP value)")
    }
    var outcome: StampMinter.Outcome = .failed("not run")
    do throws(CoreError) {
        let loop = try EventLoop()
        let minter = StampMinter(loop: loop, threads: threads)
        minter.onProgress = { request, attempts, milliseconds in
            complain("solving " + request.requirement.algorithm.identifier + " effort "
                     + String(request.requirement.effort) + ": " + String(attempts) + " attempts, "
                     + String(milliseconds / 1000) + " s")
        }
        var nonce = [UInt8](repeating: 0, count: Stamp.nonceLength)
        try CoreError.check(smtorp_random_bytes(&nonce, nonce.count), context: "random nonce")
        minter.mint(StampRequest(recipient: recipient, requirement: offer, date: StampDate(unixSeconds: now),
                                 nonce: nonce)) { result in
            outcome = result
            loop.stop()
        }
        _ = loop.run()
    } catch {
        throw .runtime(error.message)
    }
    switch outcome {
    case .stamp(let text):
        say(text)
        return ExitCode.ok
    case .failed(let why):
        throw .runtime("no stamp: " + why)
    }
}

func powCheck(_ args: [String]) throws(CLIError) -> Int32 {
    let options = try parseOptions(args, allowed: [], help: powHelp, extras: ["--for", "--algorithm", "--effort"])
    guard options.positional.count == 1, let forText = options.extras["--for"] else {
        throw .usage("pow check takes one STAMP and --for ADDRESS")
    }
    let recipient: SMTorPAddress?
    do throws(AddressError) { recipient = try Address.parseSMTorP(forText) } catch {
        throw .usage(forText + ": " + error.message)
    }
    guard let recipient else { throw .usage(forText + " is not an SMTorP address") }
    let now = smtorp_clock_unix_seconds()
    var registry = AlgorithmRegistry.standard
    if let only = try powRequirement(options, now: now) {
        registry = AlgorithmRegistry(entries: [.init(algorithm: only.algorithm, status: .accepted,
                                                     baseEffort: only.effort)])
    }
    var verifier = StampVerifier(registry: registry, store: InMemoryDoubleSpendStore(), kernel: CoreProofKernel())
    var counter = Argon2VerificationCounter()
    let outcome = verifier.verify(stampText: options.positional[0], recipient: recipient, now: now,
                                  argon2: &counter)
    guard let refusal = outcome.reply else {
        say("valid stamp for " + recipient.text)
        return ExitCode.ok
    }
    say("invalid stamp: " + String(refusal.code) + " " + (refusal.enhanced?.text ?? "") + " "
        + refusal.lines.joined(separator: " "))
    return 1
}

let contactsHelp = """
usage: smtorp contacts [options]

Lists the address book: the full SMTorP address (with the TLS fingerprint
label) of everyone this node delivered to, learnt at the first delivery, and
the pinned fingerprint of each onion (trust on first use).

options:
  --config FILE / --data-dir DIR   the node
  --help                           show this help
"""

func contacts(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: ["--data-dir"], help: contactsHelp)
    guard !options.config.dataDirectory.isEmpty else { throw .usage("contacts needs --data-dir DIR or --config FILE") }
    let trust = TrustStore(directory: options.config.dataDirectory)
    if trust.contacts.isEmpty { say("(no contacts yet)") }
    for c in trust.contacts { say(c.address + "  last used " + UTCDate(unixSeconds: c.lastUsed).rfc5322) }
    for p in trust.pins { say("pin " + p.onion + " " + p.fingerprintLabel + "  since " + UTCDate(unixSeconds: p.firstSeen).rfc5322) }
}

/// The command line after the program name. The C core captured it
/// before main(): Embedded Swift has no `CommandLine`.
func commandLineArguments() -> [String] {
    var count = 0
    guard let argv = smtorp_arguments(&count) else { return [] }
    return (1..<max(count, 1)).map { argv[$0].map { String(cString: $0) } ?? "" }
}

func run() -> Int32 {
    let args = commandLineArguments()
    guard let command = args.first else {
        say(mainHelp)
        return ExitCode.usage
    }
    let rest = Array(args.dropFirst())
    do throws(CLIError) {
        switch command {
        case "--version", "version":
            say("smtorp " + smtorpVersion)
        case "--help", "-h":
            say(mainHelp)
        case "help":
            switch rest.first {
            case "serve": say(serveHelp)
            case "address": say(addressHelp)
            case "init": say(initHelp)
            case "check": say(checkHelp)
            case "send": say(sendHelp)
            case "contacts": say(contactsHelp)
            case "sendmail": say(sendmailHelp)
            case "queue": say(queueHelp)
            case "passwd": say(passwdHelp)
            case "pow": say(powHelp)
            case nil: say(mainHelp)
            case let other?: throw .usage("no command " + other)
            }
        case "init": try initNode(rest)
        case "check": return try check(rest)
        case "send": return try send(rest)
        case "contacts": try contacts(rest)
        case "sendmail": return try sendmail(rest)
        case "queue": try queue(rest)
        case "passwd": try passwd(rest)
        case "pow": return try pow(rest)
        case "serve": try serve(rest)
        case "address": try address(rest)
        default: throw .usage("unknown command " + command + " (try smtorp --help)")
        }
    } catch {
        switch error {
        case .usage(let m): complain(m); return ExitCode.usage
        case .config(let m): complain(m); return ExitCode.config
        case .runtime(let m): complain(m); return ExitCode.failure
        }
    }
    return ExitCode.ok
}

exitProcess(run())
