"""Distribution (tenant schema): contacts, contact lists, distributions of a survey and one
invitation per (survey, contact).

A contact's personal data (e-mail, names, attributes) lives in one field, ``personal``, read and
written only through ``tenant_apps.distribution.personal``, which seals it with the organisation's key.
``email_hash`` is a keyed hash of the lower-cased e-mail: the de-duplication and look-up
key, which stays usable when ``personal`` is encrypted."""

from __future__ import annotations

from django.db import models


class Contact(models.Model):
    # {"sealed": <the sealed {"email", "first_name", "last_name", "attributes"}>}: see personal.py.
    personal = models.JSONField(default=dict)
    email_hash = models.CharField(max_length=64, unique=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"contact:{self.pk}"


class ContactList(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    contacts = models.ManyToManyField(Contact, through="ContactListMember", related_name="lists")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class ContactListMember(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact_list", "contact"], name="contact_list_member_unique")]

    def __str__(self) -> str:
        return f"{self.contact_list_id}:{self.contact_id}"


class Distribution(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending"
        SENT = "sent"  # every invitation was tried (sent or failed)

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="distributions")
    contact_list = models.ForeignKey(ContactList, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    subject = models.CharField(max_length=200)
    message = models.TextField(max_length=5000)
    reminders_max = models.PositiveSmallIntegerField(default=0)
    reminder_interval_hours = models.PositiveIntegerField(default=72)
    created_by_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"distribution:{self.pk}"


class Invitation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"
        RESPONDED = "responded"
        UNSUBSCRIBED = "unsubscribed"  # the contact opted out before it was sent

    distribution = models.ForeignKey(Distribution, on_delete=models.CASCADE, related_name="invitations")
    survey_id = models.BigIntegerField()
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="invitations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Part of the signed link: a new nonce revokes every link sent before.
    nonce = models.CharField(max_length=32)
    sent_at = models.DateTimeField(null=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True)
    responded_at = models.DateTimeField(null=True)
    submission_uid = models.UUIDField(null=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            # One invitation (so one response) per contact and survey, whatever the distribution.
            models.UniqueConstraint(fields=["survey_id", "contact"], name="invitation_survey_contact_unique")
        ]
        indexes = [
            models.Index(fields=["distribution", "status"], name="invitation_dist_status"),
            models.Index(fields=["status", "next_reminder_at"], name="invitation_reminder_due"),
        ]

    def __str__(self) -> str:
        return f"invitation:{self.pk}:{self.status}"
