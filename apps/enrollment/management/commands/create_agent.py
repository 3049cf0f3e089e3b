from django.core.management.base import BaseCommand

from apps.enrollment.services import appliance_create


class Command(BaseCommand):
    help = "Create an approved agent identity and print its login token (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("appliance_id")
        parser.add_argument("--name", default="")

    def handle(self, *args, appliance_id, name, **options):
        appliance, token = appliance_create(appliance_id=appliance_id, name=name)
        self.stdout.write(f"appliance_id={appliance.appliance_id}\ntoken={token}")
