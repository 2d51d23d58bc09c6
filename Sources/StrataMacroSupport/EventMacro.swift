import SwiftDiagnostics
import SwiftParser
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@Event("Name", version: 2)` on a struct: its conformance to `Event` (the stored type name and schema version),
/// and the field reader and writer of both built-in codecs (`FieldDecodable`, `FieldEncodable`), generated from its
/// stored properties so that they agree with its synthesized `Codable` conformance byte for byte.
public struct EventMacro: ExtensionMacro, MemberMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        guard let (decl, name, version, fields) = analyzed(node, declaration, in: context, report: true) else { return [] }
        let access = memberAccess(decl.modifiers)
        let extra = """
            /// The stored type name (`@Event`).
            \(access)static var eventType: String { \(StringLiteralExprSyntax(content: name).description) }
            /// The schema version (`@Event`).
            \(access)static var schemaVersion: UInt32 { \(version) }

            """
        return fieldCodingExtension(type: type, conformances: protocols, access: access, fields: fields, macro: "@Event", extra: extra)
    }

    /// The members: `Lazy` and `roundTripsExactly`, declared in the type's body so that the types they spell resolve as
    /// the stored properties' own do (an extension at file scope would not see a type nested beside the event). Nothing
    /// when the extension is refused (its diagnostics say why; not repeated here).
    public static func expansion(
        of node: AttributeSyntax, providingMembersOf declaration: some DeclGroupSyntax, conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let (decl, _, _, fields) = analyzed(node, declaration, in: context, report: false) else { return [] }
        let access = memberAccess(decl.modifiers)
        var members = [DeclSyntax(stringLiteral: lazyType(of: decl.name.trimmedDescription, fields: fields, access: access))]
        if let exact = roundTrip(decl, fields: fields, access: access) { members.append(DeclSyntax(stringLiteral: exact)) }
        return members
    }

    /// The struct, its type name and version, and its stored fields; nil (after diagnosing why, when `report`) when the
    /// macro cannot generate its conformance.
    static func analyzed(
        _ node: AttributeSyntax, _ declaration: some DeclGroupSyntax, in context: some MacroExpansionContext, report: Bool
    ) -> (StructDeclSyntax, String, UInt32, [StoredField])? {
        guard let decl = declaration.as(StructDeclSyntax.self) else {
            if report { context.error(node, "notAStruct", "@Event applies to a struct (an event is a value with stored properties)") }
            return nil
        }
        let reporting = ReportingContext(context, report: report)
        guard let (name, version) = arguments(of: node, typeName: decl.name.text, in: reporting) else { return nil }
        for member in decl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self),
                variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) })
            else { continue }
            for binding in variable.bindings {
                guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self), ["eventType", "schemaVersion"].contains(pattern.identifier.text) else { continue }
                reporting.error(binding, "duplicateIdentity", "@Event gives the type its \(pattern.identifier.text) from its arguments: remove this declaration")
                return nil
            }
        }
        guard let fields = storedFields(of: decl, macro: "@Event", in: reporting) else { return nil }
        return (decl, name, version, fields)
    }

    /// `roundTripsExactly` when every decoded property's type is written and one whose bytes read back as an equal
    /// value through either codec, and no `CodingKeys` leaves a property out; nothing otherwise (the default: false).
    /// The names are checked again when it runs: each property's real type (a type named `Date` in the event's scope
    /// need not be Foundation's) is asked of `PayloadFieldsWriter.readsBackExactly`.
    static func roundTrip(_ decl: StructDeclSyntax, fields: [StoredField], access: String) -> String? {
        let hasCodingKeys = decl.memberBlock.members.contains { $0.decl.as(EnumDeclSyntax.self)?.name.text == "CodingKeys" }
        var checks: [String] = []
        for field in fields where field.isDecoded {
            guard let type = field.type, isExactlyCoded(type) else { return nil }
            checks.append("Strata.PayloadFieldsWriter.readsBackExactly(\\Self.\(field.name))")
        }
        guard !hasCodingKeys else { return nil }
        return """
            /// Whether reading back what `encode(fields:)` writes gives an equal value (`@Event`: every field is a primitive, a `Date` or a `UUID`).
            \(access)static var roundTripsExactly: Bool { \(checks.isEmpty ? "true" : checks.joined(separator: " && ")) }
            """
    }

    /// The event's `Lazy` type: a property for each decoded field whose type is written, reading it when read.
    static func lazyType(of type: String, fields: [StoredField], access: String) -> String {
        let properties = fields.compactMap { field -> String? in
            guard field.isDecoded, var fieldType = field.type, unescaped(field.name) != "lazyPayload" else { return nil }
            if let implicit = fieldType.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) {
                fieldType = TypeSyntax(OptionalTypeSyntax(wrappedType: implicit.wrappedType.trimmed))
            }
            let read = field.isOptional ? "decodeIfPresent" : "decode"
            return """
                /// `\(unescaped(field.name))`, read from its field when read.
                \(access)var \(field.name): \(fieldType.trimmedDescription) { get throws { try lazyPayload.read { try $0.\(read)(forKey: \(field.keyLiteral)) } } }
                """
        }
        return """
            /// The event read lazily: each property reads its field when it is read; `event()` decodes it whole (generated by `@Event`).
            \(access)struct Lazy: Strata.LazyEvent {
            \(access)typealias Viewed = \(type)
            /// The payload behind the properties.
            \(access)let lazyPayload: Strata.LazyPayload
            /// The lazy event over `lazyPayload`.
            \(access)init(lazyPayload: Strata.LazyPayload) { self.lazyPayload = lazyPayload }
            \(properties.joined(separator: "\n"))
            }
            """
    }

    /// The type name (the first argument, or the type's own name) and schema version (`version:`, default 1), checked
    /// as the store checks them; nil after a diagnostic.
    static func arguments(of node: AttributeSyntax, typeName: String, in context: some MacroExpansionContext) -> (String, UInt32)? {
        var name = typeName.hasPrefix("`") ? String(typeName.dropFirst().dropLast()) : typeName
        var version: UInt32 = 1
        for argument in node.arguments?.as(LabeledExprListSyntax.self) ?? [] {
            switch argument.label?.text {
            case nil:
                guard let literal = argument.expression.as(StringLiteralExprSyntax.self), let text = literal.representedLiteralValue else {
                    context.error(argument.expression, "nameNotLiteral", "the event's type name must be a string literal: it is what the store keeps, forever")
                    return nil
                }
                guard (1...128).contains(text.utf8.count) else {
                    context.error(argument.expression, "nameLength", "an event's type name is 1 to 128 bytes of UTF-8 (this one is \(text.utf8.count))")
                    return nil
                }
                name = text
            case "version":
                guard let literal = argument.expression.as(IntegerLiteralExprSyntax.self), let value = literal.representedLiteralValue,
                    value >= 1, value <= Int(UInt32.max)
                else {
                    context.error(argument.expression, "version", "the schema version must be an integer literal from 1 to \(UInt32.max)")
                    return nil
                }
                version = UInt32(value)
            default:
                continue
            }
        }
        return (name, version)
    }
}
