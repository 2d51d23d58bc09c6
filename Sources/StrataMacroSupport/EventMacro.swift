import SwiftDiagnostics
import SwiftParser
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@Event("Name", version: 2)` on a struct: its conformance to `Event` (the stored type name and schema version),
/// and the field reader and writer of both built-in codecs (`FieldDecodable`, `FieldEncodable`), generated from its
/// stored properties so that they agree with its synthesized `Codable` conformance byte for byte.
public struct EventMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax, providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        guard let decl = declaration.as(StructDeclSyntax.self) else {
            context.error(node, "notAStruct", "@Event applies to a struct (an event is a value with stored properties)")
            return []
        }
        guard let (name, version) = arguments(of: node, typeName: decl.name.text, in: context) else { return [] }
        for member in decl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self),
                variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) })
            else { continue }
            for binding in variable.bindings {
                guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self), ["eventType", "schemaVersion"].contains(pattern.identifier.text) else { continue }
                context.error(binding, "duplicateIdentity", "@Event gives the type its \(pattern.identifier.text) from its arguments: remove this declaration")
                return []
            }
        }
        guard let fields = storedFields(of: decl, macro: "@Event", in: context) else { return [] }
        let access = memberAccess(decl.modifiers)
        let extra = """
            /// The stored type name (`@Event`).
            \(access)static var eventType: String { \(StringLiteralExprSyntax(content: name).description) }
            /// The schema version (`@Event`).
            \(access)static var schemaVersion: UInt32 { \(version) }

            """
        return fieldCodingExtension(type: type, conformances: protocols, access: access, fields: fields, macro: "@Event", extra: extra)
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
