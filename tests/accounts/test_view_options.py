"""An AccountsView's class-line options given in part are refused when the class is made, not answered with 405."""
import pytest

from apps.accounts import selectors
from apps.accounts.api import serializers as s
from apps.accounts.api.base import AccountsView


def test_write_without_read_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="need read="):
        class _WriteOnly(AccountsView, write=selectors.smtp, body=s.SmtpStatusSerializer):
            pass


def test_read_without_answer_and_write_without_body_are_refused():
    with pytest.raises(TypeError, match="needs answer="):
        class _NoAnswer(AccountsView, read=selectors.smtp):
            pass
    with pytest.raises(TypeError, match="go together"):
        class _NoBody(AccountsView, answer=s.SmtpStatusSerializer, read=selectors.smtp, write=selectors.smtp):
            pass


def test_a_whole_class_line_makes_get_and_put():
    class _Whole(AccountsView, answer=s.SmtpStatusSerializer, read=selectors.smtp, write=selectors.smtp,
                 body=s.SmtpStatusSerializer):
        pass

    assert callable(_Whole.get) and callable(_Whole.put)
