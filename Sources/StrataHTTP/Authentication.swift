import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import Synchronization

/// The claims of a bearer token a `StrataAPI` accepts: who (`sub`), until when (`exp`), which tenants it may use
/// and which roles it has; `iss` and `aud` when the server checks them.
///
/// ```json
/// {"sub": "alice", "exp": 1767225600, "tenants": ["acme"], "roles": ["clerk"]}
/// ```
public struct AccessToken: JWTPayload, Equatable {
    /// The subject: stamped into each event a command writes as its user (`RecordMetadata.user`).
    public var sub: SubjectClaim
    /// When the token expires (required).
    public var exp: ExpirationClaim
    /// Who issued it (checked when `BearerAuthentication.issuer` is set).
    public var iss: IssuerClaim?
    /// Whom it is for (checked when `BearerAuthentication.audience` is set).
    public var aud: AudienceClaim?
    /// The tenants the token may read and write; no other.
    public var tenants: [String]
    /// The roles that role policies (`AccessPolicy.roles`) look for.
    public var roles: [String]

    /// A token's claims.
    public init(subject: String, expires: Date, tenants: [String], roles: [String] = [], issuer: String? = nil, audience: String? = nil) {
        sub = SubjectClaim(value: subject)
        exp = ExpirationClaim(value: expires)
        iss = issuer.map { IssuerClaim(value: $0) }
        aud = audience.map { AudienceClaim(value: [$0]) }
        self.tenants = tenants
        self.roles = roles
    }

    /// Checks the expiry (the issuer and audience are checked by `BearerAuthentication`).
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// How the server checks bearer tokens: the keys that may sign them (a jwt-kit `JWTKeyCollection`: HMAC secrets,
/// RSA/ECDSA/EdDSA public keys or a JWKS, from the application's configuration) and, when set, the issuer and
/// audience a token must name. A token signed by no key of the collection, expired, of another issuer or
/// audience, or malformed is refused with 401; `alg: none` is never accepted. A token that verified is kept (by
/// its whole text) until it expires and not verified again — see `forgetVerifiedTokens()` when a key is revoked.
public struct BearerAuthentication: Sendable {
    /// The keys tokens are verified with.
    public let keys: JWTKeyCollection
    /// The issuer a token must name (nil: not checked).
    public var issuer: String?
    /// The audience a token must include (nil: not checked).
    public var audience: String?
    /// Tokens that verified, by their text: a client sends the same token with each request until it expires, and
    /// checking its signature and parsing its claims again cost more than the rest of a command's handling.
    let verified = VerifiedTokens(capacity: VerifiedTokens.defaultCapacity)

    /// Checks tokens against `keys` (and the issuer and audience, when given).
    public init(keys: JWTKeyCollection, issuer: String? = nil, audience: String? = nil) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
    }

    /// Forgets every token verified so far, so that each is verified again on its next request: call it after
    /// taking a key out of `keys` (a verified token is otherwise accepted until it expires, without its signature
    /// being checked again). Copies of this value share what they verified.
    public func forgetVerifiedTokens() {
        verified.removeAll()
    }

    /// The token of a request's `Authorization: Bearer …` header, verified; a `Problem` (401) otherwise.
    func authenticate(_ request: Request) async throws(Problem) -> AccessToken {
        guard let header = request.headers[.authorization] else { throw .unauthorized("no Authorization header: send `Authorization: Bearer <token>`") }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw .unauthorized("the Authorization header is not `Bearer <token>`") }
        guard parts[1].utf8.count <= BearerAuthentication.tokenBytesMax else { throw .unauthorized("the token is longer than \(BearerAuthentication.tokenBytesMax) bytes") }
        let text = String(parts[1])
        let token: AccessToken
        if let known = verified.token(text, now: Date()) {
            token = known
        } else {
            do {
                token = try await keys.verify(text, as: AccessToken.self)
            } catch let error as JWTError {
                throw .unauthorized(Self.reason(error))
            } catch {
                throw .unauthorized("the token does not verify")
            }
            verified.add(text, token)
        }
        if let issuer, token.iss?.value != issuer { throw .unauthorized("the token is not issued by \(issuer)") }
        if let audience, !(token.aud?.value.contains(audience) ?? false) { throw .unauthorized("the token is not for \(audience)") }
        return token
    }

    /// The longest token the server reads.
    static let tokenBytesMax = 8_192

    /// What a verification failure says to the client: the kind, never the key or the library's internals.
    static func reason(_ error: JWTError) -> String {
        switch error.errorType {
        case .claimVerificationFailure: "the token has expired or a claim does not hold"
        case .malformedToken, .invalidHeaderField, .invalidBool: "the token is malformed"
        case .signatureVerificationFailed: "the token's signature does not verify"
        case .unknownKID, .missingKIDHeader: "the token's key is not one of this server's"
        case .unsupportedAlgorithm: "the token's algorithm is not accepted"
        default: "the token does not verify"
        }
    }
}

/// The tokens a `BearerAuthentication` verified, by their whole text (signature included: a text equal to a
/// verified one is that token), until they expire; at most `capacity` of them (a full cache drops an arbitrary
/// entry for a new one). Only tokens that verified are added, so forged or malformed ones never fill it. The
/// issuer and audience are checked on every request, cached or not (they are the authentication's settings).
final class VerifiedTokens: Sendable {
    static let defaultCapacity = 4_096

    let capacity: Int
    private let tokens = Mutex<[String: AccessToken]>([:])

    init(capacity: Int) { self.capacity = capacity }

    /// The verified token of `text`, unless it has expired by `now` (then it is dropped).
    func token(_ text: String, now: Date) -> AccessToken? {
        tokens.withLock { tokens in
            guard let token = tokens[text] else { return nil }
            guard token.exp.value > now else {
                tokens[text] = nil
                return nil
            }
            return token
        }
    }

    func add(_ text: String, _ token: AccessToken) {
        tokens.withLock { tokens in
            if tokens.count >= capacity, tokens[text] == nil, let any = tokens.keys.first { tokens[any] = nil }
            tokens[text] = token
        }
    }

    func removeAll() {
        tokens.withLock { $0.removeAll() }
    }

    var count: Int { tokens.withLock { $0.count } }
}

/// Who may run a command or query, read an aggregate or follow the live feed — always within the tenants of the
/// caller's token (a token never reaches another tenant, whatever the policy). Like Sekiban.Web's authorize
/// definitions: allow, deny, or allow only with roles.
public enum AccessPolicy: Sendable, Equatable {
    /// Any valid token for the tenant.
    case authenticated
    /// A valid token for the tenant with at least one of these roles.
    case roles(Set<String>)
    /// No one (the route stays in the document, answering 403).
    case deny

    /// Whether `token` passes (its tenant already checked); the reason when not.
    func refusal(of token: AccessToken, operation: String) -> Problem? {
        switch self {
        case .authenticated: return nil
        case .deny: return .forbidden("\(operation) is not allowed over HTTP")
        case .roles(let roles):
            if token.roles.contains(where: roles.contains) { return nil }
            return .forbidden("\(operation) needs one of the roles \(roles.sorted().joined(separator: ", "))")
        }
    }
}
