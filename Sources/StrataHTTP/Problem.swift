import HTTPTypes
import Hummingbird
import NIOCore

/// Why a request failed, as an RFC 9457 problem (`application/problem+json`): an HTTP status, a stable `type` URI
/// per kind of failure, a short title and a detail naming what was wrong. Every failure of a `StrataAPI` route
/// is one of these; nothing a response says comes from a stack trace or a file path.
public struct Problem: Error, Sendable, Equatable, HTTPResponseError {
    /// The kind of failure: its `type` URI ends in the raw value (`…/problems/version-conflict`).
    public enum Kind: String, Sendable, CaseIterable {
        /// The request is malformed: a body that is not JSON or not the command's, a bad parameter or key (400).
        case badRequest = "bad-request"
        /// No token, or a token that is expired, forged or not for this server (401).
        case unauthorized
        /// The token is valid but not for this tenant, or its roles do not allow the operation (403).
        case forbidden
        /// No such route, command, query, aggregate group or aggregate (404).
        case notFound = "not-found"
        /// The command's expected version (`If-Match`) or its kind did not hold (409).
        case versionConflict = "version-conflict"
        /// `.create` on an aggregate that exists (409).
        case alreadyExists = "already-exists"
        /// The path does not take this method (405, with `Allow`).
        case methodNotAllowed = "method-not-allowed"
        /// The body is larger than the limit (413).
        case contentTooLarge = "content-too-large"
        /// The body is not `application/json` (415).
        case unsupportedMediaType = "unsupported-media-type"
        /// The command's handler refused it: a domain error (422).
        case rejected
        /// A read-your-writes query whose projection did not reach the position in time (503, `Retry-After`).
        case projectionBehind = "projection-behind"
        /// The request took longer than the server's limit (503).
        case timeout
        /// The store is closed or failed; details are in the server's log, not the response (500 or 503).
        case unavailable
        /// A failure inside the server; details are in the server's log, not the response (500).
        case internalError = "internal-error"
    }

    /// The kind of failure.
    public var kind: Kind
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What was wrong, for a person.
    public var detail: String
    /// Extra members of the problem object (`currentVersion` of a conflict, say), as JSON values.
    public var extensions: [(String, ProblemValue)]
    /// Seconds a client should wait before retrying (the `Retry-After` header), when given.
    public var retryAfterSeconds: Int?

    /// A problem; see the properties.
    public init(_ kind: Kind, status: HTTPResponse.Status, _ detail: String, extensions: [(String, ProblemValue)] = [], retryAfterSeconds: Int? = nil) {
        self.kind = kind
        self.status = status
        self.detail = detail
        self.extensions = extensions
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The `type` member: a URI naming the kind of failure.
    public var type: String { Problem.typeBase + kind.rawValue }
    /// The URI every problem type starts with.
    public static let typeBase = "https://strata.dev/problems/"
    /// The media type of a problem response.
    public static let mediaType = "application/problem+json"

    /// Equal kinds, statuses, details and retry times (extensions compared by their JSON).
    public static func == (a: Problem, b: Problem) -> Bool {
        a.kind == b.kind && a.status == b.status && a.detail == b.detail && a.retryAfterSeconds == b.retryAfterSeconds
            && a.extensions.map { "\($0.0)=\($0.1.json)" } == b.extensions.map { "\($0.0)=\($0.1.json)" }
    }

    /// The problem as a response.
    public func response(from request: Request, context: some RequestContext) throws -> Response { response }

    /// The problem as a response.
    public var response: Response {
        var writer = JSONWriter()
        writer.object { object in
            object.field("type") { $0.string(type) }
            object.field("title") { $0.string(status.reasonPhrase) }
            object.field("status") { $0.integer(status.code) }
            object.field("detail") { $0.string(detail) }
            for (name, value) in extensions { object.field(name) { $0.raw(value.json) } }
        }
        var headers: HTTPFields = [.contentType: Problem.mediaType]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }  // (RFC 6750: the scheme the server takes)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: writer.buffer))
    }
}

/// A JSON value in a problem's extension members.
public struct ProblemValue: Sendable {
    /// The value's JSON text.
    public let json: String

    /// A string.
    public static func string(_ value: String) -> ProblemValue {
        var writer = JSONWriter()
        writer.string(value)
        return ProblemValue(json: String(buffer: writer.buffer))
    }

    /// An integer.
    public static func integer<I: BinaryInteger>(_ value: I) -> ProblemValue { ProblemValue(json: "\(value)") }
}

extension Problem {
    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, status: .badRequest, detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, status: .notFound, detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, status: .forbidden, detail) }
    static func unauthorized(_ detail: String) -> Problem { Problem(.unauthorized, status: .unauthorized, detail) }
    static func internalError() -> Problem {
        Problem(.internalError, status: .internalServerError, "the server failed; its log names the request")
    }
}

/// Turns every failure of the routes after it into a problem response: a `Problem` as it is, Hummingbird's own
/// errors (no route: 404, a body over the limit: 413, …) as the matching kind, anything else as a 500 whose
/// detail says nothing of the server — the error itself goes to the log, with the request's method and path.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response
        } catch let error as HTTPError {
            return Problem.from(error).response
        } catch is CancellationError {
            throw CancellationError()  // (the client went away: nothing to answer)
        } catch {
            context.logger.error(
                "request failed inside the server", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            return Problem.internalError().response
        }
    }
}

extension Problem {
    /// The problem for one of Hummingbird's own errors.
    static func from(_ error: HTTPError) -> Problem {
        let detail = error.body ?? error.status.reasonPhrase.lowercased()
        switch error.status {
        case .notFound: return .notFound(error.body ?? "no such route")
        case .contentTooLarge: return Problem(.contentTooLarge, status: .contentTooLarge, error.body ?? "the body is larger than the server takes")
        case .unauthorized: return .unauthorized(detail)
        case .forbidden: return .forbidden(detail)
        case .methodNotAllowed: return Problem(.methodNotAllowed, status: .methodNotAllowed, detail)
        case .unsupportedMediaType: return Problem(.unsupportedMediaType, status: .unsupportedMediaType, detail)
        default:
            if error.status.kind == .clientError { return Problem(.badRequest, status: error.status, detail) }
            return .internalError()
        }
    }
}
