//! Tokens of the filter language.

use super::FilterError;

/// One token and the byte position it starts at.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) pos: usize,
}

/// Token kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    True,
    False,
    And,
    Or,
    Not,
    In,
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CmpOp {
    /// `=` (also `==`).
    Eq,
    /// `!=` (also `<>`).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Num(n) => format!("the number {n}"),
            Tok::True => "'true'".into(),
            Tok::False => "'false'".into(),
            Tok::And => "'and'".into(),
            Tok::Or => "'or'".into(),
            Tok::Not => "'not'".into(),
            Tok::In => "'in'".into(),
            Tok::Op(op) => format!("'{}'", op.as_str()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits `input` into tokens.
pub(crate) fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let kind = match c {
            '(' | ')' | '[' | ']' | ',' => {
                chars.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Comma,
                }
            }
            '=' => {
                chars.next();
                if chars.peek().is_some_and(|&(_, c)| c == '=') {
                    chars.next();
                }
                Tok::Op(CmpOp::Eq)
            }
            '!' => {
                chars.next();
                if chars.peek().is_some_and(|&(_, c)| c == '=') {
                    chars.next();
                    Tok::Op(CmpOp::Ne)
                } else {
                    return Err(FilterError::new(pos, "'=' after '!'", found_at(input, pos + 1)));
                }
            }
            '<' | '>' => {
                chars.next();
                let next = chars.peek().map(|&(_, c)| c);
                match (c, next) {
                    ('<', Some('=')) => {
                        chars.next();
                        Tok::Op(CmpOp::Le)
                    }
                    ('<', Some('>')) => {
                        chars.next();
                        Tok::Op(CmpOp::Ne)
                    }
                    ('>', Some('=')) => {
                        chars.next();
                        Tok::Op(CmpOp::Ge)
                    }
                    ('<', _) => Tok::Op(CmpOp::Lt),
                    _ => Tok::Op(CmpOp::Gt),
                }
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((p, ch)) = chars.next() {
                    if ch == c {
                        closed = true;
                        break;
                    }
                    if ch == '\\' {
                        match chars.next() {
                            Some((_, e @ ('\\' | '\'' | '"'))) => s.push(e),
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, 't')) => s.push('\t'),
                            Some((q, _)) => {
                                return Err(FilterError::new(q, "one of \\\\ \\' \\\" \\n \\t", found_at(input, q)))
                            }
                            None => return Err(FilterError::new(p + 1, "an escaped character", "end of input")),
                        }
                    } else {
                        s.push(ch);
                    }
                }
                if !closed {
                    return Err(FilterError::new(
                        input.len(),
                        format!("a closing {c} for the string at {pos}"),
                        "end of input",
                    ));
                }
                Tok::Str(s)
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let mut end = pos;
                let mut prev = ' ';
                while let Some(&(p, ch)) = chars.peek() {
                    let sign_ok = (ch == '-' || ch == '+') && (p == pos || prev == 'e' || prev == 'E');
                    if ch.is_ascii_digit() || ch == '.' || ch == 'e' || ch == 'E' || sign_ok {
                        prev = ch;
                        end = p + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let text = &input[pos..end];
                match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => Tok::Num(n),
                    _ => return Err(FilterError::new(pos, "a number", format!("'{text}'"))),
                }
            }
            c if is_ident_start(c) => {
                let mut end = pos;
                while let Some(&(p, ch)) = chars.peek() {
                    if is_ident(ch) {
                        end = p + ch.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &input[pos..end];
                match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    _ => Tok::Ident(word.to_owned()),
                }
            }
            '&' | '|' => {
                chars.next();
                let want = if c == '&' { "&&" } else { "||" };
                if chars.peek().is_some_and(|&(_, n)| n == c) {
                    chars.next();
                    if c == '&' {
                        Tok::And
                    } else {
                        Tok::Or
                    }
                } else {
                    return Err(FilterError::new(pos, format!("'{want}', 'and' or 'or'"), found_at(input, pos)));
                }
            }
            _ => return Err(FilterError::new(pos, "a field, value, operator or parenthesis", found_at(input, pos))),
        };
        out.push(Token { kind, pos });
    }
    Ok(out)
}

/// Describes the character at `pos` for an error message.
fn found_at(input: &str, pos: usize) -> String {
    match input.get(pos..).and_then(|s| s.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "end of input".into(),
    }
}
