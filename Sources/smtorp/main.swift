// main.swift: the `smtorp` command-line tool.
//
//   smtorp serve   [options]        run the node (onion listener, Maildirs)
//   smtorp address [options] [NAME] print the node's SMTorP addresses
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
  serve      run the node: the implicit-TLS SMTP listener and local Maildirs
  address    print this node's SMTorP addresses for a mailbox
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
  --help                 show this help
"""

let addressHelp = """
usage: smtorp address [options] [MAILBOX]

Prints the full SMTorP address of MAILBOX (default: the first configured
mailbox, else "postmaster") with the TLS fingerprint label, then the short
form without it, then the node's onion name.

options:
  --config FILE     configuration file
  --data-dir DIR    data directory
  --help            show this help
"""

/// Options shared by the commands that load a configuration.
struct LoadedOptions {
    var config = Configuration()
    var positional: [String] = []
}

let flagToSetting: [String: String] = [
    "--data-dir": "data_directory", "--listen": "listen", "--mailbox": "mailbox",
    "--domain-alias": "domain_alias", "--max-message-size": "max_message_size",
    "--max-recipients": "max_recipients", "--command-timeout": "command_timeout",
    "--data-timeout": "data_timeout", "--log-level": "log_level",
]

enum CLIError: Error {
    case usage(String)
    case config(String)
    case runtime(String)
}

func parseOptions(_ args: [String], allowed: [String], help: String) throws(CLIError) -> LoadedOptions {
    var configPath: String? = nil
    var overrides: [(String, String)] = []
    var positional: [String] = []
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
        if name == "--config" || allowed.contains(name) {
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard i + 1 < args.count else { throw .usage(name + " needs a value") }
                i += 1
                value = args[i]
            }
            if name == "--config" { configPath = value } else { overrides.append((flagToSetting[name]!, value)) }
        } else if arg.hasPrefix("-") {
            throw .usage("unknown option " + arg)
        } else {
            positional.append(arg)
        }
        i += 1
    }
    var options = LoadedOptions()
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
    return options
}

func exitProcess(_ code: Int32) -> Never {
    smtorp_exit(code)
}

func serve(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: Array(flagToSetting.keys), help: serveHelp)
    guard options.positional.isEmpty else { throw .usage("serve takes no arguments") }
    let config = options.config
    guard !config.dataDirectory.isEmpty else {
        throw .usage("no data directory: use --data-dir or data_directory in --config")
    }
    let logger = Logger(threshold: config.logLevel)
    if config.mailboxes.isEmpty {
        logger.warning("no mailbox configured: every recipient will be refused")
    }
    do throws(CoreError) {
        let identity = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
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
        let server = try SMTPServer(
            loop: loop, tls: tls,
            settings: SMTPServerSettings(listen: config.listen,
                                         session: ServerConfiguration(hostname: hostname, limits: limits)),
            policy: policy, store: store, logger: logger)
        let shutdown = ShutdownHandler(loop: loop, server: server, logger: logger)
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
        guard loop.run() else { throw CoreError(SMTORP_ERR_EVENT, context: "event loop") }
        withExtendedLifetime(shutdown) {}
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
    let logger: Logger

    init(loop: EventLoop, server: SMTPServer, logger: Logger) {
        self.loop = loop
        self.server = server
        self.logger = logger
    }

    func shutdown(signal: Int32) {
        logger.info("signal " + String(signal) + ": shutting down")
        server.shutdown()
        loop.stop()
    }
}

func address(_ args: [String]) throws(CLIError) {
    let options = try parseOptions(args, allowed: ["--data-dir"], help: addressHelp)
    guard options.positional.count <= 1 else { throw .usage("address takes at most one mailbox") }
    guard !options.config.dataDirectory.isEmpty else {
        throw .usage("no data directory: use --data-dir or data_directory in --config")
    }
    let mailbox = options.positional.first.map { lowercasedASCII($0) }
        ?? options.config.mailboxes.first ?? "postmaster"
    do throws(CoreError) {
        let identity = try NodeIdentity.loadOrCreate(dataDirectory: options.config.dataDirectory)
        say(mailbox + "@" + identity.fullDomain)
        say(mailbox + "@" + identity.onion.hostname)
        say(identity.onion.hostname)
    } catch {
        throw .runtime(error.message)
    }
}

func run() -> Int32 {
    let args = Array(CommandLine.arguments.dropFirst())
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
            case nil: say(mainHelp)
            case let other?: throw .usage("no command " + other)
            }
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
