//! Evaluation of a filter against a product.

use std::cmp::Ordering;

use clerk_core::domain::{AttributeValue, Product, Scalar};

use super::{CmpOp, Expr, Field, Value};

/// One value of a product field, borrowed.
#[derive(Clone, Copy, Debug)]
enum Val<'a> {
    Text(&'a str),
    Num(f64),
    Bool(bool),
}

impl<'a> From<&'a Scalar> for Val<'a> {
    fn from(s: &'a Scalar) -> Self {
        match s {
            Scalar::Bool(b) => Val::Bool(*b),
            Scalar::Number(n) => Val::Num(*n),
            Scalar::Text(t) => Val::Text(t),
        }
    }
}

/// Whether any value of `field` satisfies `test`. A missing field has no values.
fn any(field: &Field, id: &str, p: Option<&Product>, test: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
    let Some(p) = p else {
        return match field {
            Field::Id => test(Val::Text(id)),
            Field::InStock | Field::Index => test(Val::Bool(true)),
            _ => false,
        };
    };
    match field {
        Field::Id => test(Val::Text(&p.id)),
        Field::Name => test(Val::Text(&p.name)),
        Field::Description => test(Val::Text(&p.description)),
        Field::Brand => p.brand.as_deref().is_some_and(|b| test(Val::Text(b))),
        Field::Price => p.price.is_some_and(|v| test(Val::Num(v))),
        Field::ListPrice => p.list_price.is_some_and(|v| test(Val::Num(v))),
        Field::Categories => p.categories.iter().any(|c| test(Val::Text(c))),
        Field::InStock => test(Val::Bool(p.in_stock)),
        Field::Stock => p.stock.is_some_and(|v| test(Val::Num(v as f64))),
        Field::CreatedAt => p.created_at.is_some_and(|t| test(Val::Num(t.secs() as f64))),
        Field::Index => test(Val::Bool(p.index)),
        Field::Attribute(name) => match p.attributes.get(name) {
            None => false,
            Some(AttributeValue::Bool(b)) => test(Val::Bool(*b)),
            Some(AttributeValue::Number(n)) => test(Val::Num(*n)),
            Some(AttributeValue::Text(t)) => test(Val::Text(t)),
            Some(AttributeValue::List(items)) => items.iter().any(|s| test(Val::from(s))),
        },
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// How a field value orders against a literal; `None` when they do not compare.
fn compare(a: Val<'_>, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Val::Num(x), Value::Number(y)) => x.partial_cmp(y),
        (Val::Text(x), Value::Text(y)) => Some(x.cmp(y.as_str())),
        (Val::Num(x), Value::Text(y)) => number(y).and_then(|y| x.partial_cmp(&y)),
        (Val::Text(x), Value::Number(y)) => number(x).and_then(|x| x.partial_cmp(y)),
        (Val::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn test(a: Val<'_>, op: CmpOp, b: &Value) -> bool {
    let Some(ord) = compare(a, b) else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

/// Evaluates `expr` on a product (or an id without a catalog record).
pub(crate) fn eval(expr: &Expr, id: &str, p: Option<&Product>) -> bool {
    match expr {
        Expr::And(items) => items.iter().all(|e| eval(e, id, p)),
        Expr::Or(items) => items.iter().any(|e| eval(e, id, p)),
        Expr::Not(e) => !eval(e, id, p),
        // `!=` is the negation of `=`: no element equals the value (a missing field qualifies).
        Expr::Compare { field, op: CmpOp::Ne, value } => !any(field, id, p, &mut |v| test(v, CmpOp::Eq, value)),
        Expr::Compare { field, op, value } => any(field, id, p, &mut |v| test(v, *op, value)),
        Expr::In { field, values } => any(field, id, p, &mut |v| values.iter().any(|x| test(v, CmpOp::Eq, x))),
    }
}
