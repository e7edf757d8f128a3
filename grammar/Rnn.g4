// Rnn.g4 - the grammar of .rnn model files (see docs/language.md).
//
// The parser is generated into the build tree at build time; nothing generated
// is committed. Semantic rules (which layers exist, their parameters and their
// shapes) live in compiler/lower, not here: the grammar only fixes the syntax.
grammar Rnn;

file        : decl* EOF ;
decl        : constDecl | modelDecl ;

// const NAME = expr
constDecl   : 'const' name '=' expr ;

// model NAME { stmt* }
modelDecl   : 'model' name '{' stmt* '}' ;

stmt        : constDecl
            | inputDecl
            | targetDecl
            | outputDecl
            | lossDecl
            | optimizerDecl
            | trainDecl
            | dataDecl
            | assignStmt
            ;

// input NAME : DTYPE[dims]
inputDecl     : 'input' name ':' tensorType ;
// target NAME : DTYPE[dims] (classes N)?
targetDecl    : 'target' name ':' tensorType ('classes' expr)? ;
// output NAME
outputDecl    : 'output' name ;
// loss FN(prediction, target)
lossDecl      : 'loss' call ;
// optimizer FN(key=value, ...)
optimizerDecl : 'optimizer' call ;
// train { key=value ... }
trainDecl     : 'train' settings ;
// data KIND { key=value ... }
dataDecl      : 'data' name settings ;
// NAME = expr
assignStmt    : name '=' expr ;

settings    : '{' (setting ','?)* '}' ;
setting     : name '=' expr ;

tensorType  : name '[' (dim (',' dim)*)? ']' ;
dim         : INT | name ;

expr        : call
            | list
            | MINUS? (INT | FLOAT)
            | STRING
            | TRUE
            | FALSE
            | name
            ;
call        : name '(' (arg (',' arg)*)? ')' ;
arg         : (name '=')? expr ;
list        : '[' (expr (',' expr)*)? ']' ;

// Keywords are reserved only where a statement starts; elsewhere (parameter
// and setting names such as `target="OT"` in a data block) they are names.
name        : ID | 'input' | 'target' | 'output' | 'loss' | 'optimizer'
            | 'train' | 'data' | 'classes' ;

TRUE        : 'true' ;
FALSE       : 'false' ;
MINUS       : '-' ;
ID          : [A-Za-z_] [A-Za-z0-9_]* ;
FLOAT       : DIGITS '.' DIGITS? EXPONENT?
            | '.' DIGITS EXPONENT?
            | DIGITS EXPONENT
            ;
INT         : DIGITS ;
STRING      : '"' (~["\\\r\n] | '\\' ["\\nt])* '"' ;

LINE_COMMENT  : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS            : [ \t\r\n]+ -> skip ;

fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;
