import SwiftCompilerPlugin
import SwiftSyntaxMacros

/// The compiler plugin of Strata's macros (declared in the `Strata` module: `@Event`, `@FieldCodable`, `@EventSet`).
@main
struct StrataMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [EventMacro.self, FieldCodableMacro.self, EventSetMacro.self]
}
