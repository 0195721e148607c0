"""Python tools for the python_function_missing case: defines `get_book`, not `get_books`."""


def get_book(db: dict[str, dict[str, object]], book_id: str) -> object:
    """The book with this id."""
    return db["books"][book_id]
