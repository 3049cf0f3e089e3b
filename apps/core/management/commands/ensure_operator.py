"""Create the first console account on a fresh install and say how to log in."""
import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from apps.core.choices import Role


class Command(BaseCommand):
    help = "Create an admin+operator account if no account can log in yet, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("MP_ADMIN_USERNAME", "admin"))

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True, is_active=True).exists():
            self.stdout.write("An admin account exists; log in at http://127.0.0.1:8000/console/")
            return
        password = os.environ.get("MP_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=options["username"], email="", password=password)
        for role in (Role.ADMIN, Role.OPERATOR):
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        # Printed once, on purpose: this is the only place the generated password appears.
        self.stdout.write(self.style.SUCCESS(
            f"Created console account '{user.username}' with password: {password}\n"
            f"Log in at http://127.0.0.1:8000/console/ and http://127.0.0.1:8000/swagger/ "
            f"(API: POST /api/v1/auth/login with username and password)."))
