import Foundation
import NIOSSL
import PostgresNIO
import Strata

extension PostgresEventStore {
    /// Where the server is, how to connect, and how the store runs. Made from a URL
    /// (`postgres://user:password@host:port/database?sslmode=require&schema=strata`), from the standard `PG*`
    /// environment variables (`fromEnvironment()`), or field by field.
    public struct Configuration: Sendable {
        /// How connections use TLS (libpq's `sslmode` names).
        public enum TLSMode: String, Sendable {
            /// Plain connections.
            case disable
            /// TLS when the server offers it, without checking its certificate; else plain (libpq's default).
            case prefer
            /// TLS, without checking the server's certificate.
            case require
            /// TLS, the certificate checked against the system's trusted roots and the host name.
            case verifyFull = "verify-full"
        }

        /// The server's host name or address (ignored when `unixSocketPath` is set).
        public var host: String
        public var port: Int
        /// A unix-domain socket to connect through instead of TCP (the socket file itself, e.g.
        /// `/var/run/postgresql/.s.PGSQL.5432`).
        public var unixSocketPath: String?
        public var username: String
        public var password: String?
        public var database: String?
        public var tls: TLSMode
        /// The PostgreSQL schema that holds Strata's tables (created when missing): letters, digits and `_`,
        /// starting with a letter or `_`, at most 48 bytes. Several stores can share a database in schemas of
        /// their own.
        public var schema: String
        /// The most connections the store's pool opens (appends and reads each lease one for a statement; waiting
        /// for events uses one more connection of its own, for LISTEN).
        public var maximumConnections: Int
        /// How long opening a connection may take; while the server cannot be reached for this long, calls fail
        /// with `PostgresStoreError.connectionLost` instead of waiting.
        public var connectTimeout: Duration
        /// The server cancels a statement that runs longer (PostgreSQL's `statement_timeout`; nil: the server's
        /// setting). The call fails with `PostgresStoreError.timedOut`.
        public var statementTimeout: Duration?
        /// The longest `waitForEvents` goes without looking at the table itself: the bound on how late a waiter
        /// learns of a commit whose notification was lost (a reconnecting listener) or never sent (a commit that
        /// unblocked events of a transaction committed earlier).
        public var pollInterval: Duration
        /// How long `readAll` waits for transactions that began before this process's latest append to end, so
        /// that it shows that append (read-your-writes); past it, it reads what the global order shows (logged).
        public var readYourWritesTimeout: Duration = .seconds(5)
        /// The longest a call waits for its answer — a pooled connection, the statement and its rows — before it
        /// fails with `PostgresStoreError.connectionLost` (an append with `mayHaveCommitted`): the bound on a call
        /// whose connection died without the driver noticing (postgres-nio can then wait forever). Keep it above
        /// `statementTimeout` plus the longest wait for a free connection under load.
        public var callTimeout: Duration = .seconds(60)
        /// Whether `connect` creates Strata's tables in a schema that has none (true); false: it fails with
        /// `PostgresStoreError.schemaMissing` and creates nothing (tools that only read, roles that may not create).
        public var createSchemaIfMissing = true
        /// Where the store logs and measures.
        public var observability: Observability

        /// A configuration for a TCP connection.
        public init(
            host: String = "localhost", port: Int = 5432, username: String, password: String? = nil, database: String? = nil,
            tls: TLSMode = .prefer, schema: String = "strata", maximumConnections: Int = 20, connectTimeout: Duration = .seconds(10),
            statementTimeout: Duration? = .seconds(30), pollInterval: Duration = .milliseconds(500),
            observability: Observability = .standard
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.schema = schema
            self.maximumConnections = maximumConnections
            self.connectTimeout = connectTimeout
            self.statementTimeout = statementTimeout
            self.pollInterval = pollInterval
            self.observability = observability
        }

        /// A configuration from a connection URL: `postgres://` or `postgresql://`, user and password (percent-
        /// encoded), host (or a unix-socket folder as `?host=/path`), port (5432), database; query settings
        /// `sslmode` (`disable`, `prefer`, `require`, `verify-full`) and `schema`.
        public init(url: String) throws(PostgresStoreError) {
            guard let components = URLComponents(string: url), let scheme = components.scheme,
                scheme == "postgres" || scheme == "postgresql"
            else { throw .invalidConfiguration(setting: "URL", reason: "not a postgres:// or postgresql:// URL") }
            guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
                throw .invalidConfiguration(setting: "URL", reason: "no user name (postgres://USER@host/database)")
            }
            self.init(username: user)
            password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
            if let host = components.host, !host.isEmpty { self.host = host }
            if let port = components.port { self.port = port }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            if !path.isEmpty { database = path.removingPercentEncoding ?? path }
            for item in components.queryItems ?? [] {
                let value = item.value ?? ""
                switch item.name {
                case "sslmode": try setTLS(value, setting: "sslmode")
                case "schema": schema = value
                case "host" where value.hasPrefix("/"): unixSocketPath = value + "/.s.PGSQL.\(port)"
                case "application_name", "connect_timeout": continue
                default: throw .invalidConfiguration(setting: item.name, reason: "not a setting this store knows")
                }
            }
            try validate()
        }

        /// A configuration from the standard environment variables of PostgreSQL's clients: `PGHOST` (a name, an
        /// address or a unix-socket folder), `PGPORT`, `PGUSER` (default: `USER`), `PGPASSWORD`, `PGDATABASE`,
        /// `PGSSLMODE`; and `STRATA_POSTGRES_SCHEMA` for the schema. `DATABASE_URL`, when set, is used instead.
        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresStoreError)
            -> Configuration
        {
            if let url = environment["DATABASE_URL"], !url.isEmpty { return try Configuration(url: url) }
            guard let user = environment["PGUSER"] ?? environment["USER"], !user.isEmpty else {
                throw .invalidConfiguration(setting: "PGUSER", reason: "not set (and neither is USER)")
            }
            var configuration = Configuration(username: user)
            if let port = environment["PGPORT"] {
                guard let number = Int(port), (1...65535).contains(number) else {
                    throw .invalidConfiguration(setting: "PGPORT", reason: "\(port) is not a port number")
                }
                configuration.port = number
            }
            if let host = environment["PGHOST"], !host.isEmpty {
                if host.hasPrefix("/") {
                    configuration.unixSocketPath = host + "/.s.PGSQL.\(configuration.port)"
                } else {
                    configuration.host = host
                }
            }
            configuration.password = environment["PGPASSWORD"]
            configuration.database = environment["PGDATABASE"]
            if let mode = environment["PGSSLMODE"] { try configuration.setTLS(mode, setting: "PGSSLMODE") }
            if let schema = environment["STRATA_POSTGRES_SCHEMA"] { configuration.schema = schema }
            try configuration.validate()
            return configuration
        }

        private mutating func setTLS(_ value: String, setting: String) throws(PostgresStoreError) {
            switch value {
            case "disable", "allow": tls = .disable
            case "prefer": tls = .prefer
            case "require", "verify-ca": tls = .require
            case "verify-full": tls = .verifyFull
            default: throw .invalidConfiguration(setting: setting, reason: "\(value) is not disable, prefer, require or verify-full")
            }
        }

        /// Checks what the store builds SQL from (the schema name) and the numbers.
        func validate() throws(PostgresStoreError) {
            guard Self.isPlainIdentifier(schema) else {
                throw .invalidConfiguration(
                    setting: "schema", reason: "\(schema) is not letters, digits and _ starting with a letter or _ (at most 48 bytes)")
            }
            guard (1...65535).contains(port) else { throw .invalidConfiguration(setting: "port", reason: "\(port) is not a port number") }
            guard maximumConnections >= 1 else {
                throw .invalidConfiguration(setting: "maximumConnections", reason: "at least one connection is needed")
            }
            guard callTimeout > .zero else { throw .invalidConfiguration(setting: "callTimeout", reason: "\(callTimeout) is not positive") }
        }

        static func isPlainIdentifier(_ name: String) -> Bool {
            let bytes = Array(name.utf8)
            guard let first = bytes.first, bytes.count <= 48 else { return false }
            func letter(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95 }
            return letter(first) && bytes.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
        }

        /// The TLS settings of `tls` and whether TLS is required; nil: plain connections. `prefer` and `require` do
        /// not check the server's certificate (libpq's meaning); `verify-full` checks it and the host name.
        private func tlsSettings() -> (TLSConfiguration, required: Bool)? {
            switch tls {
            case .disable: return nil
            case .prefer, .require:
                var unchecked = TLSConfiguration.makeClientConfiguration()
                unchecked.certificateVerification = .none
                return (unchecked, tls == .require)
            case .verifyFull: return (.makeClientConfiguration(), true)
            }
        }

        /// postgres-nio's client configuration.
        func client() throws(PostgresStoreError) -> PostgresClient.Configuration {
            var configuration: PostgresClient.Configuration
            if let unixSocketPath {
                configuration = PostgresClient.Configuration(
                    unixSocketPath: unixSocketPath, username: username, password: password, database: database)
            } else {
                let tls: PostgresClient.Configuration.TLS = switch tlsSettings() {
                case nil: .disable
                case let (settings, required)?: required ? .require(settings) : .prefer(settings)
                }
                configuration = PostgresClient.Configuration(
                    host: host, port: port, username: username, password: password, database: database, tls: tls)
            }
            configuration.options.maximumConnections = maximumConnections
            configuration.options.connectTimeout = connectTimeout
            var parameters = [("application_name", "strata")]
            if let statementTimeout {
                let milliseconds = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
                parameters.append(("statement_timeout", "\(max(1, milliseconds))"))
            }
            configuration.options.additionalStartupParameters = parameters
            return configuration
        }

        /// postgres-nio's configuration of a single connection (the store's LISTEN connection, outside the pool).
        func connection() throws -> PostgresConnection.Configuration {
            var configuration: PostgresConnection.Configuration
            if let unixSocketPath {
                configuration = PostgresConnection.Configuration(
                    unixSocketPath: unixSocketPath, username: username, password: password, database: database)
            } else {
                let tls: PostgresConnection.Configuration.TLS = switch tlsSettings() {
                case nil: .disable
                case let (settings, required)?:
                    required ? .require(try NIOSSLContext(configuration: settings)) : .prefer(try NIOSSLContext(configuration: settings))
                }
                configuration = PostgresConnection.Configuration(
                    host: host, port: port, username: username, password: password, database: database, tls: tls)
            }
            configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000
                + connectTimeout.components.attoseconds / 1_000_000_000)
            configuration.options.additionalStartupParameters = [("application_name", "strata-listen")]
            return configuration
        }

        /// Where the server is, for messages (never the password).
        public var serverDescription: String {
            let place = unixSocketPath ?? "\(host):\(port)"
            return "\(username)@\(place)/\(database ?? username) schema \(schema)"
        }
    }
}
