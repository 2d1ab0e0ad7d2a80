//! Recursive-descent parser of the filter language, bounded in depth.

use clerk_core::domain::Timestamp;

use super::lexer::{CmpOp, Tok, Token};
use super::{Expr, Field, FilterError, Value, ValueKind, MAX_DEPTH, MAX_LIST};

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    end: usize,
    depth: usize,
}

/// Parses a whole token list into one expression.
pub(crate) fn parse(toks: &[Token], end: usize) -> Result<Expr, FilterError> {
    let mut p = Parser { toks, i: 0, end, depth: 0 };
    if toks.is_empty() {
        return Err(FilterError::new(end, "a condition such as price > 10", "end of input"));
    }
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(FilterError::new(t.pos, "'and', 'or' or the end of the filter", t.kind.describe()));
    }
    Ok(e)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "end of input".to_owned(), |t| t.kind.describe())
    }

    fn err<T>(&self, expected: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError::new(self.pos(), expected, self.found()))
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.and()?];
        while self.peek().is_some_and(|t| t.kind == Tok::Or) {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.unary()?];
        while self.peek().is_some_and(|t| t.kind == Tok::And) {
            self.i += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("at most {MAX_DEPTH} levels of nesting"));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek().is_some_and(|t| t.kind == Tok::Not) {
            self.i += 1;
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return self.err("a condition, 'not' or '('");
        };
        match t.kind {
            Tok::LParen => {
                self.i += 1;
                self.enter()?;
                let e = self.or()?;
                if self.peek().is_some_and(|t| t.kind == Tok::RParen) {
                    self.i += 1;
                } else {
                    return self.err(format!("')' to close the '(' at {}", t.pos));
                }
                self.depth -= 1;
                Ok(e)
            }
            Tok::Ident(name) => {
                self.i += 1;
                let Some(field) = Field::from_name(&name) else {
                    return Err(FilterError::new(
                        t.pos,
                        "a field name (letters, digits and '_', optionally after 'attributes.')",
                        format!("'{name}'"),
                    ));
                };
                self.comparison(field, &name)
            }
            _ => self.err("a field name, 'not' or '('"),
        }
    }

    fn comparison(&mut self, field: Field, name: &str) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return self.err(format!("an operator (= != < <= > >= in) after '{name}'"));
        };
        match t.kind {
            Tok::Op(op) => {
                self.i += 1;
                let value = self.scalar(&field, Some(op), &format!("'{}'", op.as_str()))?;
                Ok(Expr::Compare { field, op, value })
            }
            Tok::In => {
                self.i += 1;
                let values = self.list(&field)?;
                Ok(Expr::In { field, values })
            }
            Tok::Not if self.toks.get(self.i + 1).is_some_and(|t| t.kind == Tok::In) => {
                self.i += 2;
                let values = self.list(&field)?;
                Ok(Expr::Not(Box::new(Expr::In { field, values })))
            }
            _ => self.err(format!("an operator (= != < <= > >= in) after '{name}'")),
        }
    }

    fn list(&mut self, field: &Field) -> Result<Vec<Value>, FilterError> {
        if !self.peek().is_some_and(|t| t.kind == Tok::LBracket) {
            return self.err("a list '[...]' after 'in'");
        }
        self.i += 1;
        let mut values = Vec::new();
        loop {
            if self.peek().is_some_and(|t| t.kind == Tok::RBracket) {
                self.i += 1;
                return Ok(values);
            }
            if values.len() >= MAX_LIST {
                return self.err(format!("at most {MAX_LIST} values in a list"));
            }
            values.push(self.scalar(field, None, "'[' or ','")?);
            match self.peek().map(|t| &t.kind) {
                Some(Tok::Comma) => self.i += 1,
                Some(Tok::RBracket) => {}
                _ => return self.err("',' or ']' in the list"),
            }
        }
    }

    /// One literal for `field`, checked against the field's kind. `op` is `None` inside an `in` list.
    fn scalar(&mut self, field: &Field, op: Option<CmpOp>, after: &str) -> Result<Value, FilterError> {
        let pos = self.pos();
        let value = match self.peek().map(|t| &t.kind) {
            Some(Tok::Str(s)) => Value::Text(s.clone()),
            Some(Tok::Num(n)) => Value::Number(*n),
            Some(Tok::True) => Value::Bool(true),
            Some(Tok::False) => Value::Bool(false),
            Some(Tok::LBracket) => return self.err(format!("a single value after {after} (lists go with 'in')")),
            _ => return self.err(format!("a value after {after}")),
        };
        let ordering = op.is_some_and(|op| !matches!(op, CmpOp::Eq | CmpOp::Ne));
        let bad = |what: &str| Err(FilterError::new(pos, format!("{what} for {field}"), self.found()));
        let value = match (field.kind(), value) {
            (_, Value::Bool(_)) if ordering => return bad("a number or text (true/false only compare with = and !=)"),
            (Some(ValueKind::Number), v @ Value::Number(_)) => v,
            (Some(ValueKind::Number), _) => return bad("a number"),
            (Some(ValueKind::Bool), v @ Value::Bool(_)) => v,
            (Some(ValueKind::Bool), _) => return bad("true or false"),
            (Some(ValueKind::Text), Value::Bool(_)) => return bad("a text"),
            (Some(ValueKind::Time), Value::Text(t)) => match Timestamp::parse(&t) {
                Ok(ts) => Value::Number(ts.secs() as f64),
                Err(_) => return bad("a time such as '2024-05-01' or '2024-05-01 10:00:00'"),
            },
            (Some(ValueKind::Time), Value::Bool(_)) => return bad("a time"),
            (_, v) => v,
        };
        self.next();
        Ok(value)
    }
}
